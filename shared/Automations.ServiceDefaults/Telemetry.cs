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

    /// <summary>
    /// The process span of one item of a batch message: a child of the trace its item carries (<paramref name="traceparent"/>,
    /// as the single message's headers would), linked to the batch's receive span (the current activity).
    /// </summary>
    public static Activity? StartBatchItem(string name, string? traceparent)
    {
        ActivityContext.TryParse(traceparent, null, out var parent);
        var links = Activity.Current is { } batch ? new[] { new ActivityLink(batch.Context) } : null;
        var activity = Source.StartActivity(name, ActivityKind.Consumer, parent, links: links);
        activity?.SetTag("messaging.operation.type", "process");
        return activity;
    }
}
