using System.Diagnostics.Metrics;
using Automations.ServiceDefaults;

namespace Automations.Rules.Runs;

/// <summary>Rules' instruments, on the host's "Automations" meter (the factory gives every caller the same one).</summary>
public sealed class RunMetrics(IMeterFactory meters)
{
    private readonly Counter<long> _runs = meters.Create(Telemetry.Name).CreateCounter<long>("automations.runs", description: "Automation runs entering a status (Pending, Enqueued, Finished, Failed)");
    private readonly Histogram<double> _matching = meters.Create(Telemetry.Name).CreateHistogram<double>("automations.rules.matching.duration", unit: "ms",
        description: "Time to find the automations an event triggers (cache lookup or load, and filters)");

    public void Run(string status, string actionType, long count = 1)
    {
        if (count > 0)
            _runs.Add(count, new KeyValuePair<string, object?>("status", status), new KeyValuePair<string, object?>("action_type", actionType));
    }

    public void Matching(TimeSpan elapsed, string eventType) =>
        _matching.Record(elapsed.TotalMilliseconds, new KeyValuePair<string, object?>("event_type", eventType));
}
