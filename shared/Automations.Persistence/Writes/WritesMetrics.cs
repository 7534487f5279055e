using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Automations.ServiceDefaults;

namespace Automations.Persistence.Writes;

/// <summary>The outbox's and group commit's instruments, on the product's meter (one per service provider, from <see cref="IMeterFactory"/>).</summary>
internal sealed class WritesMetrics
{
    private readonly ConcurrentDictionary<string, double> _lagSeconds = new();
    private readonly ConcurrentDictionary<string, long> _outboxRows = new();
    private readonly ConcurrentDictionary<object, (string Name, Func<int> Length)> _queues = new();

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
        meter.CreateObservableGauge("automations.outbox.backlog",
            () => _outboxRows.Select(kv => new Measurement<long>(kv.Value, new KeyValuePair<string, object?>("schema", kv.Key))),
            description: $"Unsent outbox rows (counted up to {OutboxBacklogCap}), as the relay last counted them");
        meter.CreateObservableGauge("automations.group_commit.queue",
            () => _queues.Values.Select(q => new Measurement<int>(q.Length(), new KeyValuePair<string, object?>("name", q.Name))),
            description: "Statements waiting for a group-commit writer (at most GroupCommit:QueueLimit; callers wait past it)");
    }

    /// <summary>The outbox backlog is counted up to this many rows: the count's cost stays bounded however far behind the relay is.</summary>
    public const int OutboxBacklogCap = 100_000;

    public Counter<long> Published { get; }
    public Counter<long> Batches { get; }
    public Histogram<int> GroupCommitStatements { get; }

    public void Lag(string schema, double seconds) => _lagSeconds[schema] = seconds;

    public void OutboxBacklog(string schema, long rows) => _outboxRows[schema] = rows;

    /// <summary>Observes a group committer's queue until the returned handle is disposed.</summary>
    public IDisposable GroupCommitQueue(string name, Func<int> length)
    {
        var key = new object();
        _queues[key] = (name, length);
        return new Unregister(() => _queues.TryRemove(key, out _));
    }

    private sealed class Unregister(Action action) : IDisposable
    {
        public void Dispose() => action();
    }
}
