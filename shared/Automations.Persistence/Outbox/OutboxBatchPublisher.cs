using System.Collections.Concurrent;
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
    /// <summary>
    /// A batch published while busy (<see cref="BatchTiming.WhileBusy"/>) carries items of at most this many bytes together
    /// (`Outbox:MaxBatchBytes`, by the batch's own measure): a consumer holds its prefetch of batches in memory.
    /// </summary>
    public long MaxBatchBytes { get; set; } = 256 * 1024;
    /// <summary>
    /// <see cref="BatchTiming.WhileBusy"/>: how long a message committed while no publish of its type is in flight waits
    /// for others before it goes (`Outbox:IdleLinger`; zero sends it at once, with what its commit made). Under load the
    /// previous publish's confirm is the wait and this adds nothing; at moderate rates it is what lets messages travel
    /// together, each saving the broker a persistent message and the consumer a dispatch, for at most this much more
    /// latency per hop (a producer's linger, as Kafka's `linger.ms`). Unset, each message type's own, given where its
    /// batching is registered (<see cref="WritesBuilder.Batch{TItem, TBatch}(Func{IReadOnlyList{BatchItem{TItem}}, TBatch}, BatchTiming, Func{TItem, long}?, TimeSpan?)"/>).
    /// The figures behind the defaults: docs/performance.md, "Events together, and the idle linger" and "One commit per
    /// batch, one linger per event".
    /// </summary>
    public TimeSpan? IdleLinger { get; set; }
}

/// <summary>When the direct path of a batched message type publishes.</summary>
public enum BatchTiming
{
    /// <summary>
    /// The first queued message waits <see cref="OutboxBatchOptions.BatchLinger"/> for others: for messages whose
    /// consumer may act a little later (a run's move to Finished).
    /// </summary>
    Linger,
    /// <summary>
    /// A message committed while no publish of its type is in flight waits only <see cref="OutboxBatchOptions.IdleLinger"/>
    /// (a few milliseconds, or none) and goes with what came meanwhile, alone as the single message if nothing did; what is
    /// committed while a publish waits for its confirm goes together in the next. No message waits longer than the idle
    /// linger or one confirm: for events and commands on the way to a user's endpoint.
    /// </summary>
    WhileBusy,
}

/// <summary>The direct path for the messages of one type that travel together (<see cref="OutboxBatchPublisher{TItem, TBatch}"/>).</summary>
internal interface IBatchPublisher
{
    Type ItemType { get; }

    /// <summary>Takes a committed row; true when it waits for <see cref="PublishQueued"/>. Never throws, never waits.</summary>
    bool Queue(OutboxWriter.Row row);

    /// <summary>Publishes what <see cref="Queue"/> took, unless a publish in flight will. Never throws, never waits.</summary>
    void PublishQueued();
}

/// <summary>
/// The direct path of the <see cref="OutboxPublisher"/> for messages that travel better together: committed
/// <typeparamref name="TItem"/> rows are published as one <typeparamref name="TBatch"/> message per
/// <see cref="OutboxBatchOptions.BatchLinger"/> (or per <see cref="OutboxBatchOptions.MaxBatch"/> messages) or, with
/// <see cref="BatchTiming.WhileBusy"/>, as what was committed while the previous publish awaited its confirm; each
/// publish waits for its publisher confirm, and the rows are then deleted as the publisher deletes its own. Each row stays a single
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
    private readonly Func<IReadOnlyList<BatchItem<TItem>>, TBatch> _combine;
    private readonly BatchTiming _timing;
    private readonly Func<TItem, long> _bytes;
    private readonly TimeSpan _idleLinger;
    private readonly IOptionsMonitor<OutboxBatchOptions> _options;
    private readonly string _schema;
    private readonly ILogger _logger;
    private const int MaxQueued = 10_000;
    private readonly Channel<BatchItem<TItem>> _queue =
        Channel.CreateBounded<BatchItem<TItem>>(new BoundedChannelOptions(MaxQueued) { SingleReader = true, FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>WhileBusy: the rows committed since the last publish began; <see cref="_publishing"/> is 1 while one is in flight.</summary>
    private readonly ConcurrentQueue<BatchItem<TItem>> _waiting = new();
    private int _waitingCount;
    private int _publishing;

    public OutboxBatchPublisher(OutboxPublisher outbox, IBus bus, Func<IReadOnlyList<BatchItem<TItem>>, TBatch> combine, BatchTiming timing,
        Func<TItem, long>? bytes, TimeSpan idleLinger, IOptionsMonitor<OutboxBatchOptions> options, string schema, WritesMetrics metrics,
        ILogger<OutboxBatchPublisher<TItem, TBatch>> logger)
    {
        _idleLinger = idleLinger;
        _outbox = outbox;
        _metrics = metrics;
        _bus = bus;
        _combine = combine;
        _timing = timing;
        _bytes = bytes ?? (_ => 0);
        _options = options;
        _schema = schema;
        _logger = logger;
    }

    public Type ItemType => typeof(TItem);

    /// <summary>Queues a message whose direct-path outbox row has just been committed. Never throws, never waits.</summary>
    public bool Queue(OutboxWriter.Row row)
    {
        var item = (TItem)row.Message;
        if (!_options.Get(_schema).Batch)
        {
            _outbox.PublishCommitted(row.MessageId, typeof(TItem), item);
            return false;
        }
        var queued = new BatchItem<TItem>(row.MessageId, item, row.Traceparent);
        if (_timing == BatchTiming.Linger)
        {
            // Full (the broker has been away for a while): the row waits for the relay.
            _queue.Writer.TryWrite(queued);
            return false;
        }
        if (Interlocked.Increment(ref _waitingCount) > MaxQueued)
        {
            Interlocked.Decrement(ref _waitingCount);
            return false;
        }
        _waiting.Enqueue(queued);
        return true;
    }

    public void PublishQueued()
    {
        // The caller that finds no publish in flight publishes (on its own thread up to the broker's confirm, as the
        // single direct path does); the others leave their rows to it.
        if (Interlocked.CompareExchange(ref _publishing, 1, 0) == 0) _ = PublishWhileBusyAsync();
    }

    /// <summary>
    /// Publishes what is waiting (after the idle linger), then what was committed meanwhile, until nothing waits: one
    /// publish in flight per type, so a batch is what the linger or one confirm's wait gathered, and a lone message goes
    /// as the single message.
    /// </summary>
    private async Task PublishWhileBusyAsync()
    {
        // Runs on the first writer's context: a batch's span starts a trace of its own (as the lingering path's, on a
        // background service's, does) and a lone message's takes its own writer's as parent. Local to this method.
        Activity.Current = null;
        var idleLinger = _options.Get(_schema).IdleLinger ?? _idleLinger;
        if (idleLinger > TimeSpan.Zero)
        {
            try
            {
                await Task.Delay(idleLinger);
            }
            catch (Exception ex)
            {
                _logger.LogError(ex, "Waiting for outbox messages ({Schema}) to publish together failed unexpectedly", _schema);
            }
        }
        var batch = new List<BatchItem<TItem>>();
        while (true)
        {
            try
            {
                var options = _options.Get(_schema);
                batch.Clear();
                var bytes = 0L;
                // One publisher at a time (_publishing), so what it peeks is what it takes.
                while (batch.Count < options.MaxBatch && _waiting.TryPeek(out var next)
                       && (batch.Count == 0 || bytes + _bytes(next.Item) <= options.MaxBatchBytes) && _waiting.TryDequeue(out next))
                {
                    batch.Add(next);
                    bytes += _bytes(next.Item);
                }
                Interlocked.Add(ref _waitingCount, -batch.Count);
                if (batch.Count == 1) await _outbox.PublishAsync(batch[0].MessageId, typeof(TItem), batch[0].Item, batch[0].Context);
                else if (batch.Count > 1) await PublishAsync(batch);
            }
            catch (Exception ex)
            {
                // Both publishes keep their failures; this is a bug, and the rows wait for the relay.
                _logger.LogError(ex, "Publishing outbox messages ({Schema}) failed unexpectedly; the relay will send them", _schema);
            }
            if (batch.Count > 0) continue;
            Volatile.Write(ref _publishing, 0);
            // A row queued after the last look but before the flag fell finds the flag still up: it is this loop's.
            if (_waiting.IsEmpty || Interlocked.CompareExchange(ref _publishing, 1, 0) != 0) return;
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_timing != BatchTiming.Linger) return;
        var batch = new List<BatchItem<TItem>>();
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

    private async Task PublishAsync(List<BatchItem<TItem>> batch)
    {
        var messageId = Guid.CreateVersion7();
        try
        {
            // A batch belongs to as many traces as it carries items: its span starts a trace of its own and links to each.
            var links = batch.Select(b => b.Context).Where(c => c != default).Select(c => new ActivityLink(c));
            using var activity = Telemetry.Source.StartActivity($"outbox {MessageTypes.NameOf(typeof(TBatch))} publish",
                ActivityKind.Internal, parentContext: default, links: links);
            activity?.SetTag("messaging.message.id", messageId);
            activity?.SetTag("messaging.batch.message_count", batch.Count);
            activity?.SetTag("automations.outbox.schema", _schema);
            activity?.SetTag("automations.outbox.path", "direct");
            using var timeout = new CancellationTokenSource(_outbox.PublishTimeout);
            await _bus.Publish(_combine(batch), ctx => ctx.MessageId = messageId, timeout.Token);
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

/// <summary>A committed row's message on its way into a batch, with the W3C traceparent its row was written with (null outside a trace).</summary>
public readonly record struct BatchItem<TItem>(Guid MessageId, TItem Item, string? Traceparent)
{
    /// <summary>The trace context of <see cref="Traceparent"/>; default when there is none.</summary>
    public ActivityContext Context => ActivityContext.TryParse(Traceparent, null, out var context) ? context : default;
}
