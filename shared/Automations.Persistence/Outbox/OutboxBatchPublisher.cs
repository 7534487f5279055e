using System.Diagnostics;
using System.Threading.Channels;
using Automations.Persistence.Writes;
using Automations.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Automations.Persistence.Outbox;

public sealed class OutboxBatchOptions
{
    /// <summary>
    /// Off (`Outbox:Batch=false`): each message is published alone, as the <see cref="OutboxPublisher"/> does. For a
    /// rolling upgrade, consumers that understand the batch message must be running before a publisher batches.
    /// </summary>
    public bool Batch { get; set; } = true;
    /// <summary>
    /// How long the first queued message waits for others before the batch is published (`Outbox:BatchLinger`). Each
    /// batch is a broker message, a wake-up of its consumer and a commit there whatever it carries, so at moderate rates
    /// a longer linger saves most of that; what waits is only the run's move to Finished. The figures behind the default:
    /// docs/performance.md, settings.
    /// </summary>
    public TimeSpan BatchLinger { get; set; } = TimeSpan.FromMilliseconds(100);
    /// <summary>At most this many messages per batch (`Outbox:MaxBatch`).</summary>
    public int MaxBatch { get; set; } = 100;
}

/// <summary>The direct path for the messages of one type that travel together (<see cref="OutboxBatchPublisher{TItem, TBatch}"/>).</summary>
internal interface IBatchPublisher
{
    Type ItemType { get; }
    void PublishCommitted(Guid messageId, object message);
}

/// <summary>
/// The direct path of the <see cref="OutboxPublisher"/> for messages that travel better together: committed
/// <typeparamref name="TItem"/> rows are published as one <typeparamref name="TBatch"/> message per
/// <see cref="OutboxBatchOptions.BatchLinger"/> (or per <see cref="OutboxBatchOptions.MaxBatch"/> messages), with a
/// publisher confirm, and their rows are then deleted as the publisher deletes its own. Each row stays a single
/// <typeparamref name="TItem"/> in the outbox, so what this path does not publish within the grace (a crash, a broker
/// outage, a full queue here) the relay publishes as the single message; consumers handle either form, and an item
/// that arrives both ways must be idempotent (the run outcome is: it only moves a run forward).
/// </summary>
/// <remarks>
/// Written here rather than with MassTransit's batch consumer: that batches on the consuming side, after every message
/// has crossed the broker; the cost this saves is the broker's (a persistent, confirmed message per item) and the
/// consumer's per-message dispatch.
/// </remarks>
internal sealed class OutboxBatchPublisher<TItem, TBatch> : BackgroundService, IBatchPublisher
    where TItem : class
    where TBatch : class
{
    private readonly OutboxPublisher _outbox;
    private readonly WritesMetrics _metrics;
    private readonly IBus _bus;
    private readonly Func<IReadOnlyList<TItem>, TBatch> _combine;
    private readonly IOptionsMonitor<OutboxBatchOptions> _options;
    private readonly string _schema;
    private readonly ILogger _logger;
    private readonly Channel<(Guid MessageId, TItem Item, ActivityContext Context)> _queue =
        Channel.CreateBounded<(Guid, TItem, ActivityContext)>(new BoundedChannelOptions(10_000) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });

    public OutboxBatchPublisher(OutboxPublisher outbox, IBus bus, Func<IReadOnlyList<TItem>, TBatch> combine, IOptionsMonitor<OutboxBatchOptions> options,
        string schema, WritesMetrics metrics, ILogger<OutboxBatchPublisher<TItem, TBatch>> logger)
    {
        _outbox = outbox;
        _metrics = metrics;
        _bus = bus;
        _combine = combine;
        _options = options;
        _schema = schema;
        _logger = logger;
    }

    public Type ItemType => typeof(TItem);

    /// <summary>Queues a message whose direct-path outbox row has just been committed. Never throws, never waits.</summary>
    public void PublishCommitted(Guid messageId, object message)
    {
        var item = (TItem)message;
        if (!_options.Get(_schema).Batch)
        {
            _outbox.PublishCommitted(messageId, typeof(TItem), item);
            return;
        }
        // Full (the broker has been away for a while): the row waits for the relay.
        _queue.Writer.TryWrite((messageId, item, Activity.Current?.Context ?? default));
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<(Guid MessageId, TItem Item, ActivityContext Context)>();
        try
        {
            while (await _queue.Reader.WaitToReadAsync(stoppingToken))
            {
                var options = _options.Get(_schema);
                // The linger gathers a batch; a full batch already waiting goes at once, else a backlog would drain at
                // MaxBatch per linger (1,000 a second at the defaults) and the rest would wait for the relay.
                if (_queue.Reader.Count < options.MaxBatch) await Task.Delay(options.BatchLinger, stoppingToken);
                batch.Clear();
                while (batch.Count < options.MaxBatch && _queue.Reader.TryRead(out var queued)) batch.Add(queued);
                await PublishAsync(batch);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // What is still queued stays in the outbox: the relay publishes it after the grace.
        }
    }

    private async Task PublishAsync(List<(Guid MessageId, TItem Item, ActivityContext Context)> batch)
    {
        var messageId = Guid.CreateVersion7();
        try
        {
            // A batch belongs to as many traces as it carries items: its span starts a trace of its own and links to each.
            var links = batch.Where(b => b.Context != default).Select(b => new ActivityLink(b.Context));
            using var activity = Telemetry.Source.StartActivity($"outbox {MessageTypes.NameOf(typeof(TBatch))} publish",
                ActivityKind.Internal, parentContext: default, links: links);
            activity?.SetTag("messaging.message.id", messageId);
            activity?.SetTag("messaging.batch.message_count", batch.Count);
            activity?.SetTag("automations.outbox.schema", _schema);
            activity?.SetTag("automations.outbox.path", "direct");
            using var timeout = new CancellationTokenSource(_outbox.PublishTimeout);
            await _bus.Publish(_combine(batch.Select(b => b.Item).ToList()), ctx => ctx.MessageId = messageId, timeout.Token);
        }
        catch (Exception ex)
        {
            _logger.LogDebug(ex, "Publishing a batch of {Count} outbox messages ({Schema}) failed; the relay will send them", batch.Count, _schema);
            return;
        }
        foreach (var b in batch) _outbox.Confirmed(b.MessageId);
        _metrics.Batches.Add(1, new KeyValuePair<string, object?>("schema", _schema));
    }
}
