using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Automations.ServiceDefaults;

namespace Automations.Persistence.Writes;

/// <summary>The outbox's and group commit's instruments, on the product's meter (one per service provider, from <see cref="IMeterFactory"/>).</summary>
internal sealed class WritesMetrics
{
    private readonly ConcurrentDictionary<string, double> _lagSeconds = new();

    public WritesMetrics(IMeterFactory meterFactory)
    {
        var meter = meterFactory.Create(Telemetry.Name);
        Published = meter.CreateCounter<long>("automations.outbox.published",
            description: "Outbox rows published and confirmed, by path: direct (by their writer right after commit) or relay");
        Batches = meter.CreateCounter<long>("automations.outbox.batches",
            description: "Batch messages published by the outbox's direct path (each carries one or more rows)");
        GroupCommitStatements = meter.CreateHistogram<int>("automations.group_commit.statements",
            description: "Statements committed together in one round trip (group commit)");
        meter.CreateObservableGauge("automations.outbox.lag",
            () => _lagSeconds.Select(kv => new Measurement<double>(kv.Value, new KeyValuePair<string, object?>("schema", kv.Key))),
            unit: "s", description: "Age of the oldest unsent outbox row, as the relay last saw it");
    }

    public Counter<long> Published { get; }
    public Counter<long> Batches { get; }
    public Histogram<int> GroupCommitStatements { get; }

    public void Lag(string schema, double seconds) => _lagSeconds[schema] = seconds;
}
