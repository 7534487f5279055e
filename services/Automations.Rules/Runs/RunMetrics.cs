using System.Diagnostics.Metrics;
using Automations.ServiceDefaults;

namespace Automations.Rules.Runs;

public sealed class RunMetrics
{
    private readonly Counter<long> _runs;
    private readonly Histogram<double> _matching;

    public RunMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(Telemetry.Name);
        _runs = meter.CreateCounter<long>("automations.runs", description: "Automation runs entering a status (Pending, Enqueued, Finished, Failed)");
        _matching = meter.CreateHistogram<double>("automations.rules.matching.duration", unit: "ms",
            description: "Time to find the automations an event triggers (cache lookup or load, and filters)");
    }

    public void Run(string status, string actionType, long count = 1)
    {
        if (count > 0)
            _runs.Add(count, new KeyValuePair<string, object?>("status", status), new KeyValuePair<string, object?>("action_type", actionType));
    }

    public void Matching(TimeSpan elapsed, string eventType) =>
        _matching.Record(elapsed.TotalMilliseconds, new KeyValuePair<string, object?>("event_type", eventType));
}
