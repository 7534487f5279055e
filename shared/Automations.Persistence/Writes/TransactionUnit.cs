using Automations.Persistence.Outbox;
using Npgsql;

namespace Automations.Persistence.Writes;

/// <summary>
/// A write in an explicit transaction, for changes that read in between: the caller runs its statements on
/// <see cref="Connection"/> in <see cref="Transaction"/>; the unit marks the inbox, writes the outbox rows (one statement,
/// at <see cref="CommitAsync"/>), commits, and publishes them right after.
/// </summary>
/// <example><code>
/// await using var w = await writes.BeginTransactionAsync(ct);
/// if (!await w.InboxAsync(consumer, messageId, ct)) return;   // seen before: nothing to do
/// await w.Connection.ExecuteAsync("update ...", args, w.Transaction);
/// w.Publish(new SomethingHappened(...));
/// await w.CommitAsync(ct);
/// </code></example>
public sealed class TransactionUnit : IAsyncDisposable
{
    private readonly Writes _writes;
    private readonly bool _owned;
    private readonly List<OutboxWriter.Row> _rows = [];
    private bool _committed;

    internal TransactionUnit(Writes writes, NpgsqlConnection connection, NpgsqlTransaction transaction, bool owned)
    {
        _writes = writes;
        Connection = connection;
        Transaction = transaction;
        _owned = owned;
    }

    public NpgsqlConnection Connection { get; }
    public NpgsqlTransaction Transaction { get; }

    /// <summary>Marks <paramref name="messageId"/> handled by <paramref name="consumer"/> in this transaction.</summary>
    /// <returns>false when it was handled before: the caller does nothing (and need not commit).</returns>
    public Task<bool> InboxAsync(string consumer, Guid messageId, CancellationToken ct = default) =>
        Persistence.Inbox.Inbox.TryBeginAsync(Connection, Transaction, _writes.Schema, consumer, messageId, ct);

    /// <summary>Publishes <paramref name="message"/> once the transaction has committed (through the outbox).</summary>
    /// <returns>The message id (<paramref name="messageId"/> or a new one).</returns>
    public Guid Publish<T>(T message, Guid? messageId = null) where T : class
    {
        if (_committed) throw new InvalidOperationException("This unit was committed already");
        var row = OutboxWriter.Row.For(message.GetType(), message, messageId);
        _rows.Add(row);
        return row.MessageId;
    }

    /// <summary>Writes the outbox rows, commits the transaction, then publishes the messages.</summary>
    public async Task CommitAsync(CancellationToken ct = default)
    {
        if (_committed) throw new InvalidOperationException("This unit was committed already");
        var grace = _writes.Grace;
        if (_rows.Count > 0)
        {
            var (sql, parameters) = OutboxWriter.InsertAll(_writes.Schema, _rows, OutboxWriter.AvailableAt(grace));
            await using var command = new NpgsqlCommand(sql, Connection, Transaction);
            command.Parameters.AddRange(parameters.List.ToArray());
            await command.ExecuteNonQueryAsync(ct);
        }
        await Transaction.CommitAsync(ct);
        _committed = true;
        _writes.AfterCommit?.Invoke();
        if (grace is not null)
            _writes.PublishCommitted(_rows);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_owned) return;
        await Transaction.DisposeAsync();
        await Connection.DisposeAsync();
    }
}
