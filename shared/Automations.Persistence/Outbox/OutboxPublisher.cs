using System.Diagnostics;
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

public sealed class OutboxPublisherOptions
{
    /// <summary>Off: the rows are written for the relay at once, with NOTIFY, as every other outbox write (`Outbox:Direct`).</summary>
    public bool Direct { get; set; } = true;
    /// <summary>
    /// How long a row written for the direct path belongs to its writer: the relay leaves it alone until then. Longer
    /// than <see cref="PublishTimeout"/>, so the relay takes over only what the writer could not publish (a crash, a
    /// broker outage, too many publishes in flight).
    /// </summary>
    public TimeSpan Grace { get; set; } = TimeSpan.FromSeconds(5);
    public TimeSpan PublishTimeout { get; set; } = TimeSpan.FromSeconds(3);
    /// <summary>
    /// Published rows are deleted together, at most this often (one statement and one commit per interval, in each
    /// service): each delete is a commit whether it removes three rows or three hundred, so at moderate rates a short
    /// interval costs PostgreSQL a commit per few events. A row waits about this long for its delete, well inside
    /// <see cref="Grace"/>; a crash leaves that many published rows for the relay to publish again (the inboxes absorb
    /// them). The figures behind the default: docs/performance.md, settings.
    /// </summary>
    public TimeSpan DeleteInterval { get; set; } = TimeSpan.FromMilliseconds(250);
    /// <summary>Beyond this many publishes in flight (a slow broker) new rows are left to the relay.</summary>
    public int MaxInFlight { get; set; } = 2000;
}

/// <summary>
/// The direct path of a schema's outbox: the writer commits its rows (made available to the relay only after
/// <see cref="OutboxPublisherOptions.Grace"/>, and without NOTIFY), then hands the messages here; they are published at
/// once with publisher confirms, and the confirmed rows are deleted in batches. Nothing is lost if this path fails: a
/// row it did not publish and delete is published by the <see cref="OutboxRelay"/> after the grace (a row published
/// but not yet deleted is published again then, with the same message id, and the consumers' inboxes absorb it).
/// Per event this saves the relay's wake-up, its SELECT ... FOR UPDATE, its DELETE and its COMMIT (with small batches,
/// about one of each per event and hop) and the NOTIFY, whose commit-time lock serialises all writers.
/// </summary>
internal sealed class OutboxPublisher(
    NpgsqlDataSource dataSource,
    IBus bus,
    IOptionsMonitor<OutboxPublisherOptions> optionsMonitor,
    string schema,
    WritesMetrics metrics,
    ILogger<OutboxPublisher> logger) : BackgroundService
{
    private readonly Channel<Guid> _published = Channel.CreateUnbounded<Guid>(new UnboundedChannelOptions { SingleReader = true });
    private int _inFlight;

    private OutboxPublisherOptions Options => optionsMonitor.Get(schema);

    public string Schema => schema;

    /// <summary>
    /// How long a row written now is its writer's (the direct path, `Outbox:Direct`); null when the relay sends everything.
    /// Read once per write: the rows and the publish after their commit agree.
    /// </summary>
    public TimeSpan? Grace => Options is { Direct: true } o ? o.Grace : null;

    public TimeSpan PublishTimeout => Options.PublishTimeout;

    /// <summary>A row of this schema's outbox published and confirmed on the direct path: deleted with the next batch.</summary>
    public void Confirmed(Guid messageId)
    {
        _published.Writer.TryWrite(messageId);
        metrics.Published.Add(1, new KeyValuePair<string, object?>("schema", schema), new KeyValuePair<string, object?>("path", "direct"));
    }

    /// <summary>Publishes a message whose direct-path outbox row has just been committed. Never throws, never waits.</summary>
    public void PublishCommitted(Guid messageId, Type type, object message)
    {
        if (Interlocked.Increment(ref _inFlight) > Options.MaxInFlight)
        {
            Interlocked.Decrement(ref _inFlight);
            return;
        }
        _ = PublishInFlightAsync(messageId, type, message);
    }

    private async Task PublishInFlightAsync(Guid messageId, Type type, object message)
    {
        try
        {
            await PublishAsync(messageId, type, message);
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    /// <summary>
    /// Publishes one committed row's message, waits for its confirm and queues the row's delete; a failure leaves the row
    /// to the relay. Under <paramref name="parent"/> when given (a batcher's lone message), else the current activity.
    /// </summary>
    internal async Task PublishAsync(Guid messageId, Type type, object message, ActivityContext parent = default)
    {
        try
        {
            // The same span as the relay's, so a trace has one shape whichever path published the row.
            using var activity = Telemetry.Source.StartActivity($"outbox {MessageTypes.NameOf(type)} publish", ActivityKind.Internal, parent);
            activity?.SetTag("messaging.message.id", messageId);
            activity?.SetTag("automations.outbox.schema", schema);
            activity?.SetTag("automations.outbox.path", "direct");
            using var timeout = new CancellationTokenSource(Options.PublishTimeout);
            await bus.Publish(message, type, ctx => ctx.MessageId = messageId, timeout.Token);
            Confirmed(messageId);
        }
        catch (Exception ex)
        {
            // The row stays; the relay publishes it after the grace.
            logger.LogDebug(ex, "Direct publish of outbox message {MessageId} ({Schema}) failed; the relay will send it", messageId, schema);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<Guid>(512);
        try
        {
            // The interval counts from the first row published since the last delete, not on a timer: an idle service
            // does not wake for nothing.
            while (await _published.Reader.WaitToReadAsync(stoppingToken))
            {
                await Task.Delay(Options.DeleteInterval, stoppingToken);
                await DeleteQueuedAsync(batch, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested) { }
        // Shutting down: what was published is deleted now rather than re-published by the next relay.
        try { await DeleteQueuedAsync(batch, CancellationToken.None); }
        catch (Exception ex) { logger.LogDebug(ex, "Final delete of published outbox rows ({Schema}) failed; the relay will re-publish them", schema); }
    }

    private async Task DeleteQueuedAsync(List<Guid> batch, CancellationToken ct)
    {
        while (true)
        {
            batch.Clear();
            while (batch.Count < 5000 && _published.Reader.TryRead(out var id)) batch.Add(id);
            if (batch.Count == 0) return;
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(ct);
                await connection.ExecuteAsync(new CommandDefinition(
                    $"delete from {schema}.outbox where message_id = any(@ids)", new { ids = batch.ToArray() }, cancellationToken: ct));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Not deleted: after the grace the relay publishes these again (duplicates the inboxes absorb) and deletes them.
                logger.LogWarning(ex, "Deleting {Count} published outbox rows ({Schema}) failed; the relay will re-publish them", batch.Count, schema);
                return;
            }
            if (batch.Count < 5000) return;
        }
    }
}
