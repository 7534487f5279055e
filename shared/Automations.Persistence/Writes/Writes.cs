using System.Diagnostics;
using Automations.Persistence.GroupCommit;
using Automations.Persistence.Outbox;
using Npgsql;

namespace Automations.Persistence.Writes;

/// <summary>
/// The one way a state change that carries messages is written in a schema (one per schema, keyed by it; see
/// <see cref="WritesExtensions.AddWrites"/>): the statements, the inbox mark, the outbox rows, the relay's NOTIFY, the
/// group commit and the publish after the commit are the unit's business, not the caller's.
/// <list type="bullet">
/// <item><see cref="Begin"/>: one statement of CTEs, committed with whatever else is queued (group commit): the hot paths.</item>
/// <item><see cref="BeginTransactionAsync"/> and <see cref="Enlist"/>: an explicit transaction, for writes that read in between.</item>
/// </list>
/// Messages are published right after the commit (the direct path, `Outbox:Direct`); a row that path did not publish
/// within `Outbox:Grace` (a crash, the broker away) the relay publishes. Off, every row goes to the relay with NOTIFY.
/// </summary>
/// <remarks>Shaped after Wolverine's envelope transaction (outgoing envelopes persisted in the caller's transaction,
/// flushed after its commit) and its batcher of typed database operations.</remarks>
public sealed class Writes : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly OutboxPublisher _publisher;
    private readonly Dictionary<Type, IBatchPublisher> _batchers;
    private readonly Lazy<GroupCommitter> _committer;

    internal Writes(string schema, NpgsqlDataSource dataSource, OutboxPublisher publisher, IEnumerable<IBatchPublisher> batchers, GroupCommitOptions options,
        WritesMetrics metrics)
    {
        Schema = schema;
        InboxSql = Inbox.Inbox.Insert(schema, "inbox_consumer", "inbox_message_id");
        _dataSource = dataSource;
        _publisher = publisher;
        _batchers = batchers.ToDictionary(b => b.ItemType);
        // A service that never writes a one-statement unit starts no writers.
        _committer = new Lazy<GroupCommitter>(() => new GroupCommitter(dataSource, schema, options, metrics));
    }

    public string Schema { get; }

    /// <summary>A one-statement unit: its steps become CTEs of one statement, group-committed.</summary>
    public WriteUnit Begin() => new(this);

    /// <summary>A unit with a transaction of its own, on a connection of its own (both disposed with it).</summary>
    public async Task<TransactionUnit> BeginTransactionAsync(CancellationToken ct = default)
    {
        var connection = await _dataSource.OpenConnectionAsync(ct);
        try
        {
            return new TransactionUnit(this, connection, await connection.BeginTransactionAsync(ct), owned: true);
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>A unit in the caller's transaction: its <see cref="TransactionUnit.CommitAsync"/> commits it (the caller disposes both).</summary>
    public TransactionUnit Enlist(NpgsqlConnection connection, NpgsqlTransaction transaction) => new(this, connection, transaction, owned: false);

    internal GroupCommitter Committer => _committer.Value;

    /// <summary>The inbox step of this schema's units (its parameters are the unit's <c>@inbox_consumer</c> and <c>@inbox_message_id</c>).</summary>
    internal string InboxSql { get; }

    /// <summary>This schema's units' statements, by shape: composed once each.</summary>
    internal StatementShapes.Units Statements { get; } = new();

    /// <summary>Test hook: runs after a unit's commit, before its direct publish (what it throws is a crash there).</summary>
    internal Action? AfterCommit { get; set; }

    /// <summary>How long a row written now is its writer's (direct path); null: the relay's at once, with NOTIFY.</summary>
    internal TimeSpan? Grace => _publisher.Grace;

    /// <summary>
    /// Hands committed direct-path rows to their publishers: each type's batcher, or the publisher. A batcher gets all of
    /// its rows before it starts a publish, so the messages of one commit leave together. Never throws, never waits.
    /// </summary>
    internal void PublishCommitted(IReadOnlyList<OutboxWriter.Row> rows)
    {
        List<IBatchPublisher>? queued = null;
        foreach (var row in rows)
        {
            if (!_batchers.TryGetValue(row.Type, out var batcher)) _publisher.PublishCommitted(row.MessageId, row.Type, row.Message);
            else if (batcher.Queue(row) && !(queued ??= []).Contains(batcher)) queued.Add(batcher);
        }
        if (queued is not null)
            foreach (var batcher in queued) batcher.PublishQueued();
    }

    /// <summary>
    /// Units committed together: each handler of a broker message's items joins once (<see cref="CommitGroup.Join"/>), and
    /// when all <paramref name="members"/> have committed or left, their units go in one group commit and their messages
    /// in one publish per type.
    /// </summary>
    public CommitGroup Group(int members, CancellationToken ct = default) => new(this, members, ct);

    /// <summary>The units' statements in one group commit, then all their messages handed on at once; a result or an error per unit.</summary>
    internal async Task<(WriteResult? Result, Exception? Error)[]> CommitTogetherAsync(IReadOnlyList<(WriteUnit Unit, ActivityContext Caller)> units,
        CancellationToken ct)
    {
        var outcomes = new (WriteResult? Result, Exception? Error)[units.Count];
        var statements = new List<(string Sql, StatementParameters Parameters, ActivityContext Caller)>(units.Count);
        var prepared = new List<int>(units.Count);
        for (var i = 0; i < units.Count; i++)
        {
            try
            {
                var (sql, parameters) = units[i].Unit.Prepare();
                statements.Add((sql, parameters, units[i].Caller));
                prepared.Add(i);
            }
            catch (Exception ex) { outcomes[i] = (null, ex); }
        }
        var results = await Committer.QueueTogetherAsync(statements, ct);
        var published = new List<OutboxWriter.Row>();
        for (var j = 0; j < results.Length; j++)
        {
            var i = prepared[j];
            try { outcomes[i] = (units[i].Unit.Complete(await results[j], published), null); }
            catch (Exception ex) { outcomes[i] = (null, ex); }
        }
        AfterCommit?.Invoke();
        PublishCommitted(published);
        return outcomes;
    }

    public async ValueTask DisposeAsync()
    {
        if (_committer.IsValueCreated) await _committer.Value.DisposeAsync();
    }
}
