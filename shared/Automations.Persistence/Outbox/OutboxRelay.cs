using System.Diagnostics;
using System.Text.Json;
using System.Threading.Channels;
using Automations.Persistence.Writes;
using Automations.ServiceDefaults;
using Dapper;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.Persistence.Outbox;

public sealed class OutboxRelayOptions
{
    public string Schema { get; set; } = "";
    public int BatchSize { get; set; } = 200;
    /// <summary>Polling fallback when no NOTIFY arrives (a lost notification, a relay on another replica's rows).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(15);
    /// <summary>How often the relay counts its outbox's rows for <c>automations.outbox.backlog</c>.</summary>
    public TimeSpan BacklogInterval { get; set; } = TimeSpan.FromSeconds(5);
    /// <summary>Test hook: runs after a batch was published and confirmed, before the rows are deleted.</summary>
    public Func<IReadOnlyList<Guid>, Task>? AfterPublishBeforeDelete { get; set; }
}

/// <summary>
/// Publishes a schema's outbox rows through MassTransit with publisher confirms, issued in id order and confirmed per batch, deleting them once confirmed
/// (batch delete in the same transaction that locked them: FOR UPDATE SKIP LOCKED lets several replicas share the work).
/// Wakes on LISTEN/NOTIFY, polls as a fallback. A crash after publish and before delete re-publishes the same message id:
/// consumers' inboxes absorb it.
/// </summary>
internal sealed class OutboxRelay(
    NpgsqlDataSource dataSource,
    IBus bus,
    IOptionsMonitor<OutboxRelayOptions> optionsMonitor,
    string optionsName,
    WritesMetrics metrics,
    ILogger<OutboxRelay> logger) : BackgroundService
{
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    private OutboxRelayOptions Options => optionsMonitor.Get(optionsName);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var listener = Task.Run(() => ListenAsync(stoppingToken), stoppingToken);
        var failures = 0;
        var nextCount = 0L;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                if (Environment.TickCount64 >= nextCount)
                {
                    nextCount = Environment.TickCount64 + (long)Options.BacklogInterval.TotalMilliseconds;
                    await CountBacklogAsync(stoppingToken);
                }
                var published = await RelayBatchAsync(stoppingToken);
                failures = 0;
                if (published >= Options.BatchSize) continue;
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
                timeout.CancelAfter(Options.PollInterval);
                try { await _wake.Reader.ReadAsync(timeout.Token); }
                catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested) { }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                failures++;
                var delay = TimeSpan.FromMilliseconds(Math.Min(5000, 100 * Math.Pow(2, Math.Min(failures, 6))));
                logger.LogWarning(ex, "Outbox relay for {Schema} failed; retrying in {Delay}", Options.Schema, delay);
                try { await Task.Delay(delay, stoppingToken); } catch (OperationCanceledException) { break; }
            }
        }
        await listener.ContinueWith(_ => { }, TaskScheduler.Default);
    }

    /// <summary>Counts the unsent rows (up to a cap, so a deep backlog costs no more to count than a moderate one).</summary>
    public async Task CountBacklogAsync(CancellationToken ct)
    {
        var schema = Options.Schema;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var rows = await connection.ExecuteScalarAsync<long>(
            $"select count(*) from (select 1 from {schema}.outbox limit {WritesMetrics.OutboxBacklogCap}) backlog");
        metrics.OutboxBacklog(schema, rows);
    }

    /// <summary>Publishes one batch; returns how many rows were published.</summary>
    public async Task<int> RelayBatchAsync(CancellationToken ct)
    {
        var options = Options;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var rows = (await connection.QueryAsync<OutboxRow>(
            $"""
            select id, message_id as MessageId, message_type as MessageType, body::text as Body, traceparent, tracestate, created_at as CreatedAt
            from {options.Schema}.outbox where available_at <= now() order by id limit @batch for update skip locked
            """, new { batch = options.BatchSize }, tx)).AsList();
        metrics.Lag(options.Schema, rows.Count == 0 ? 0 : Math.Max(0, (DateTime.UtcNow - rows[0].CreatedAt.ToUniversalTime()).TotalSeconds));
        if (rows.Count == 0)
        {
            await tx.CommitAsync(ct);
            return 0;
        }

        // The batch is published pipelined: every publish is issued in id order, then the confirms are awaited together.
        // Waiting for each confirm before the next publish capped a relay at one broker round trip per message.
        var publishes = rows.Select(row => PublishAsync(row, options, ct)).ToArray();
        try { await Task.WhenAll(publishes); }
        catch (Exception) when (!ct.IsCancellationRequested) { }
        var done = new List<long>(rows.Count);
        Exception? failure = null;
        for (var i = 0; i < rows.Count; i++)
        {
            if (publishes[i].IsCompletedSuccessfully)
            {
                done.Add(rows[i].Id);
                continue;
            }
            var ex = publishes[i].Exception?.GetBaseException() ?? new OperationCanceledException();
            failure ??= ex;
            await connection.ExecuteAsync(
                $"update {options.Schema}.outbox set attempts = attempts + 1, last_error = @error where id = @id",
                new { id = rows[i].Id, error = ex.Message.Length > 500 ? ex.Message[..500] : ex.Message }, tx);
        }
        ct.ThrowIfCancellationRequested();

        if (done.Count > 0 && options.AfterPublishBeforeDelete is { } hook)
            await hook(rows.Where(r => done.Contains(r.Id)).Select(r => r.MessageId).ToList());

        if (done.Count > 0)
            await connection.ExecuteAsync($"delete from {options.Schema}.outbox where id = any(@ids)", new { ids = done.ToArray() }, tx);
        await tx.CommitAsync(ct);
        if (done.Count > 0) metrics.Published.Add(done.Count, new KeyValuePair<string, object?>("schema", options.Schema), new KeyValuePair<string, object?>("path", "relay"));
        if (failure is not null) throw new InvalidOperationException($"Publishing outbox row failed after {done.Count} of {rows.Count}", failure);
        return done.Count;
    }

    private async Task PublishAsync(OutboxRow row, OutboxRelayOptions options, CancellationToken ct)
    {
        var type = MessageTypes.Resolve(row.MessageType);
        var message = JsonSerializer.Deserialize(row.Body, type, Json.Options)!;
        ActivityContext.TryParse(row.Traceparent, row.Tracestate, out var parent);
        using var activity = Telemetry.Source.StartActivity($"outbox {row.MessageType} publish", ActivityKind.Internal, parent);
        activity?.SetTag("messaging.message.id", row.MessageId);
        activity?.SetTag("automations.outbox.schema", options.Schema);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(options.PublishTimeout);
        await bus.Publish(message, type, ctx => ctx.MessageId = row.MessageId, timeout.Token);
    }

    private async Task ListenAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(ct);
                connection.Notification += (_, _) => _wake.Writer.TryWrite(true);
                await using (var cmd = new NpgsqlCommand($"listen {Options.Schema}_outbox", connection))
                    await cmd.ExecuteNonQueryAsync(ct);
                _wake.Writer.TryWrite(true);
                while (!ct.IsCancellationRequested)
                    await connection.WaitAsync(ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogDebug(ex, "Outbox listener for {Schema} lost its connection; polling until it is back", Options.Schema);
                try { await Task.Delay(TimeSpan.FromSeconds(2), ct); } catch (OperationCanceledException) { return; }
            }
        }
    }

    private sealed record OutboxRow(long Id, Guid MessageId, string MessageType, string Body, string? Traceparent, string? Tracestate, DateTime CreatedAt);
}
