using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Automations.ServiceDefaults;
using Npgsql;

namespace Automations.Persistence.GroupCommit;

public sealed class GroupCommitOptions
{
    /// <summary>Batches in flight at once (each on its own connection). One more collects while the others run.</summary>
    public int Writers { get; set; } = 2;
    /// <summary>Statements in one batch at the most.</summary>
    public int MaxBatch { get; set; } = 64;
    /// <summary>
    /// Statements waiting for a writer at the most: past it a caller waits for room (backpressure to the HTTP request or
    /// the broker message behind it), nothing is dropped. Each waiting statement holds its parameters (an event's JSON).
    /// </summary>
    public int QueueLimit { get; set; } = 256;
}

/// <summary>
/// Group commit for a service's hot-path statements: callers queue a statement (one round trip, one implicit
/// transaction when run alone) and a few writers send whatever is queued as one <see cref="NpgsqlBatch"/>: one round
/// trip and one commit for all of them. A statement never waits for a timer: a writer that is free takes it at once, so
/// alone it costs what it cost before; under load the queue fills while the writers are busy and each commit carries
/// more statements. For statements this small PostgreSQL's cost is per round trip and commit more than per statement
/// (context switches, the WAL flush, the backend's wake-up), so batching is what buys throughput.
/// </summary>
/// <remarks>
/// <para>The batch runs in one implicit transaction (Npgsql sends one Sync at its end), so it is all or nothing: a
/// statement's result is handed back only after the whole batch has committed. When a batch fails with an error from
/// PostgreSQL, each of its statements is run again alone, so one bad statement (or a deadlock between two batches) fails
/// only its own caller. A lost connection fails the whole batch; its callers retry as they would any failed write.</para>
/// <para>Each statement must return exactly one result set (end with a <c>select</c> or <c>returning</c>): results are
/// matched to callers in order.</para>
/// <para>Npgsql's multiplexing did this for any command, and was removed in Npgsql 11: this is the part of it we need.</para>
/// </remarks>
internal sealed class GroupCommitter : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private readonly string _name;
    private readonly int _maxBatch;
    private readonly Channel<Item> _queue;
    /// <summary>Held while a writer drains the queue and while statements that go together are queued.</summary>
    private readonly Lock _drain = new();
    private readonly Task[] _writers;
    private readonly KeyValuePair<string, object?> _tag;
    private readonly Histogram<int> _batchSize;
    private readonly IDisposable _unregister;

    public GroupCommitter(NpgsqlDataSource dataSource, string name, GroupCommitOptions options, Writes.WritesMetrics metrics)
    {
        _batchSize = metrics.GroupCommitStatements;
        _dataSource = dataSource;
        _name = name;
        _maxBatch = Math.Max(1, options.MaxBatch);
        _tag = new("name", name);
        _queue = Channel.CreateBounded<Item>(new BoundedChannelOptions(Math.Max(1, options.QueueLimit))
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleWriter = false,
            SingleReader = false,
        });
        _unregister = metrics.GroupCommitQueue(name, () => _queue.Reader.Count);
        // The writers run outside any caller's trace: their batches serve many traces at once.
        using (ExecutionContext.SuppressFlow())
            _writers = Enumerable.Range(0, Math.Max(1, options.Writers)).Select(_ => Task.Run(WriteAsync)).ToArray();
    }

    /// <summary>
    /// Runs one statement in the next batch and returns its rows (each as its column values). Waits for room while
    /// <see cref="GroupCommitOptions.QueueLimit"/> statements are queued.
    /// </summary>
    public async Task<IReadOnlyList<object?[]>> QueryAsync(string sql, StatementParameters parameters, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        var item = NewItem(sql, parameters, ct, Activity.Current?.Context ?? default);
        if (!_queue.Writer.TryWrite(item)) await WaitForRoomAsync(item, ct);
        return await item.Result.Task;
    }

    /// <summary>
    /// Queues several statements so that one writer takes them all into one batch, one commit (unless they are more than
    /// <see cref="GroupCommitOptions.MaxBatch"/>, or the queue is full): the units of one broker message's items, whose
    /// messages then leave in one publish. Each statement keeps its own result: one that fails fails alone, as in any
    /// batch. Returns once all are queued.
    /// </summary>
    public async Task<Task<IReadOnlyList<object?[]>>[]> QueueTogetherAsync(
        IReadOnlyList<(string Sql, StatementParameters Parameters, ActivityContext Caller)> statements, CancellationToken ct = default)
    {
        ct.ThrowIfCancellationRequested();
        var items = statements.Select(s => NewItem(s.Sql, s.Parameters, ct, s.Caller)).ToArray();
        var queued = 0;
        // A writer drains the queue under the same lock: it takes none of these or all of them.
        lock (_drain)
            while (queued < items.Length && _queue.Writer.TryWrite(items[queued])) queued++;
        for (; queued < items.Length; queued++)
        {
            try { await WaitForRoomAsync(items[queued], ct); }
            catch (Exception ex) { items[queued].Result.TrySetException(ex); }
        }
        return [.. items.Select(i => i.Result.Task)];
    }

    private static Item NewItem(string sql, StatementParameters parameters, CancellationToken ct, ActivityContext caller)
    {
        var command = new NpgsqlBatchCommand(sql);
        command.Parameters.AddRange(parameters.List.ToArray());
        return new Item(command, ct, caller);
    }

    private async Task WaitForRoomAsync(Item item, CancellationToken ct)
    {
        try { await _queue.Writer.WriteAsync(item, ct); }
        catch (ChannelClosedException) { throw new ObjectDisposedException(nameof(GroupCommitter), $"the group committer '{_name}' is stopped"); }
    }

    /// <summary>The first column of the first row (default when there is no row or it is null).</summary>
    public async Task<T?> ScalarAsync<T>(string sql, StatementParameters parameters, CancellationToken ct = default)
    {
        var rows = await QueryAsync(sql, parameters, ct);
        return rows.Count == 0 || rows[0].Length == 0 || rows[0][0] is null ? default : (T)rows[0][0]!;
    }

    private async Task WriteAsync()
    {
        // Each writer keeps its connection: callers that hold a pooled connection while they wait for their statement
        // could otherwise take the whole pool and leave the writers none.
        var writer = new Writer();
        var batch = new List<Item>(_maxBatch);
        while (await _queue.Reader.WaitToReadAsync())
        {
            batch.Clear();
            lock (_drain)
            {
                while (batch.Count < _maxBatch && _queue.Reader.TryRead(out var item))
                {
                    if (item.Cancellation.IsCancellationRequested) item.Result.TrySetCanceled(item.Cancellation);
                    else batch.Add(item);
                }
            }
            if (batch.Count == 0) continue;
            try
            {
                await RunAsync(writer, batch);
            }
            catch (PostgresException) when (batch.Count > 1)
            {
                // One statement's error (or a deadlock with another batch) rolled the whole batch back: each alone.
                foreach (var item in batch)
                {
                    // A command belongs to one batch: a fresh copy for its run alone.
                    item.Command = Copy(item.Command);
                    try { await RunAsync(writer, [item]); }
                    catch (Exception ex)
                    {
                        if (ex is not PostgresException) await writer.DropAsync();
                        item.Result.TrySetException(ex);
                    }
                }
            }
            catch (Exception ex)
            {
                if (ex is not PostgresException) await writer.DropAsync();
                foreach (var item in batch) item.Result.TrySetException(ex);
            }
        }
        await writer.DropAsync();
    }

    private async Task RunAsync(Writer writer, List<Item> items)
    {
        var results = new IReadOnlyList<object?[]>[items.Count];
        // One span per batch, linked to every caller's span: an operator following one event sees the commit its
        // statement rode in, and how many others shared it. It stands for the batch's database call: Npgsql's own span of
        // a batch is off (ServiceDefaults), as it would carry every statement's text.
        using var activity = Telemetry.Source.StartActivity(ActivityKind.Client, parentContext: default,
            tags: [new("db.system.name", "postgresql"), new("automations.group_commit.name", _name), new("automations.group_commit.statements", items.Count)],
            links: items.Where(i => i.Caller != default).Select(i => new ActivityLink(i.Caller)), name: $"group commit {_name}");
        if (writer.Connection is not { State: System.Data.ConnectionState.Open })
        {
            await writer.DropAsync();
            writer.Connection = await _dataSource.OpenConnectionAsync();
            // Each statement planned once per writer: they are point writes, several on partitioned tables (PlanCache).
            await using var generic = new NpgsqlCommand(PlanCache.Generic, writer.Connection);
            await generic.ExecuteNonQueryAsync();
        }
        await using (var batch = writer.Connection.CreateBatch())
        {
            foreach (var item in items) batch.BatchCommands.Add(item.Command);
            var reader = await batch.ExecuteReaderAsync();
            await using (reader)
            {
                for (var i = 0; i < items.Count; i++)
                {
                    if (i > 0 && !await reader.NextResultAsync())
                        throw new InvalidOperationException($"group commit '{_name}': statement {i + 1} of {items.Count} returned no result set; each must end with a select or returning");
                    var rows = new List<object?[]>(1);
                    while (await reader.ReadAsync())
                    {
                        var row = new object?[reader.FieldCount];
                        for (var c = 0; c < row.Length; c++) row[c] = reader.IsDBNull(c) ? null : reader.GetValue(c);
                        rows.Add(row);
                    }
                    results[i] = rows;
                }
            }
            // Disposing the reader read up to ReadyForQuery: the batch has committed.
        }
        _batchSize.Record(items.Count, _tag);
        for (var i = 0; i < items.Count; i++) items[i].Result.TrySetResult(results[i]);
    }

    private sealed class Writer
    {
        public NpgsqlConnection? Connection { get; set; }

        public async Task DropAsync()
        {
            if (Connection is { } connection)
            {
                Connection = null;
                // Back to the pool as any other connection (pooled connections are not reset: ServiceDefaults).
                try
                {
                    if (connection.State == System.Data.ConnectionState.Open)
                    {
                        await using var reset = new NpgsqlCommand(PlanCache.Reset, connection);
                        await reset.ExecuteNonQueryAsync();
                    }
                }
                catch (Exception) { /* broken: the pool does not keep it */ }
                try { await connection.DisposeAsync(); }
                catch (Exception) { /* a broken connection: nothing to give back */ }
            }
        }
    }

    private static NpgsqlBatchCommand Copy(NpgsqlBatchCommand command)
    {
        var copy = new NpgsqlBatchCommand(command.CommandText);
        foreach (NpgsqlParameter p in command.Parameters) copy.Parameters.Add(p.Clone());
        return copy;
    }

    public async ValueTask DisposeAsync()
    {
        _unregister.Dispose();
        _queue.Writer.TryComplete();
        try { await Task.WhenAll(_writers).WaitAsync(TimeSpan.FromSeconds(20)); }
        catch (TimeoutException) { /* a writer stuck on a dead connection: its callers see the failure themselves */ }
    }

    private sealed class Item(NpgsqlBatchCommand command, CancellationToken cancellation, ActivityContext caller)
    {
        public ActivityContext Caller { get; } = caller;
        public NpgsqlBatchCommand Command { get; set; } = command;
        public CancellationToken Cancellation { get; } = cancellation;
        public TaskCompletionSource<IReadOnlyList<object?[]>> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
