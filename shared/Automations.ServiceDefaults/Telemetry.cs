using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Automations.ServiceDefaults;

/// <summary>The one ActivitySource and Meter of the product, both named "Automations".</summary>
public static class Telemetry
{
    public const string Name = "Automations";
    public static readonly ActivitySource Source = new(Name);
    public static readonly Meter Meter = new(Name);
}
