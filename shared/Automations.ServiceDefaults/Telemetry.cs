using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Automations.ServiceDefaults;

/// <summary>
/// The product's one ActivitySource and one meter, both named "Automations". Instruments come from the host's
/// <see cref="IMeterFactory"/> (<c>meters.Create(Telemetry.Name)</c>): one meter per host, disposed with it, which a test
/// can listen to alone.
/// </summary>
public static class Telemetry
{
    public const string Name = "Automations";
    public static readonly ActivitySource Source = new(Name);
}
