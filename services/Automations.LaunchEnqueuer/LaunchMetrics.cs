using System.Diagnostics.Metrics;
using Automations.ServiceDefaults;

namespace Automations.LaunchEnqueuer;

/// <summary>Counters of queue item transitions, tagged by outcome (the consumer, the agent endpoints and the sweeper all count).</summary>
public sealed class LaunchMetrics(IMeterFactory meters)
{
    private readonly Counter<long> _items = meters.Create(Telemetry.Name).CreateCounter<long>("automations.launch.items",
        description: "Launch queue item transitions: queued, rejected (at enqueue), claimed, finished, failed, released, requeued (lease expired), expired (given up)");

    public void Count(string transition) => _items.Add(1, new KeyValuePair<string, object?>("transition", transition));
}
