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

    /// <summary>Hands a committed direct-path row to its publisher: its type's batcher, or the publisher. Never throws, never waits.</summary>
    internal void PublishCommitted(OutboxWriter.Row row)
    {
        if (_batchers.TryGetValue(row.Type, out var batcher)) batcher.PublishCommitted(row);
        else _publisher.PublishCommitted(row.MessageId, row.Type, row.Message);
    }

    public async ValueTask DisposeAsync()
    {
        if (_committer.IsValueCreated) await _committer.Value.DisposeAsync();
    }
}
