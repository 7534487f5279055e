using System.Diagnostics.Metrics;
using Automations.ServiceDefaults;

namespace Automations.LaunchEnqueuer;

/// <summary>Counters of queue item transitions, tagged by outcome (static: the consumer, endpoints and sweeper all count).</summary>
public static class LaunchMetrics
{
    private static readonly Counter<long> Items = Telemetry.Meter.CreateCounter<long>("automations.launch.items",
        description: "Launch queue item transitions: queued, rejected (at enqueue), claimed, finished, failed, released, requeued (lease expired), expired (given up)");

    public static void Count(string transition) => Items.Add(1, new KeyValuePair<string, object?>("transition", transition));
}
