using System.Collections.Concurrent;
using System.Diagnostics;
using Automations.Core.Webhooks;
using Automations.Persistence.Control;
using Automations.ServiceDefaults;
using Automations.WebhookSender.Sending;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.WebhookSender.Deliveries;

/// <summary>
/// Runs claimed deliveries in this process, off the broker's consume path. Each webhook has its own concurrency limit,
/// taken before a slot of the process-wide limit, so an endpoint that hangs for the whole timeout holds at most its
/// own few slots and never delays other webhooks. Work lives in the database: if the process dies, the claims run
/// out and the scheduler (here or on another replica) picks the deliveries up again.
/// </summary>
public sealed class DeliveryDispatcher(
    DeliveryStore store,
    WebhookClient client,
    NpgsqlDataSource dataSource,
    IOptions<WebhookOptions> options,
    DeliveryMetrics metrics,
    ILogger<DeliveryDispatcher> logger) : IHostedService, IDisposable
{
    private readonly WebhookOptions _options = options.Value;
    private readonly RetrySchedule _schedule = options.Value.Schedule();
    private readonly ConcurrentDictionary<Guid, SemaphoreSlim> _perWebhook = new();
    /// <summary>Deliveries of each webhook held in this process (waiting for its slot or sending).</summary>
    private readonly ConcurrentDictionary<Guid, int> _heldPerWebhook = new();
    private readonly SemaphoreSlim _global = new(options.Value.MaxConcurrency);
    private readonly ConcurrentDictionary<Task, bool> _running = new();
    private readonly ConcurrentDictionary<Guid, (WebhookTarget? Webhook, (DateTimeOffset DisabledAt, string Reason)? State, long Expires)> _control = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _inFlight;
    /// <summary>A claim younger than this is used without renewing it (its lease is Timeout + ClaimMargin).</summary>
    private long FreshClaimMs => (long)Math.Min(_options.ClaimMargin.TotalMilliseconds / 2, 10_000);

    /// <summary>Deliveries handed over and not finished yet (waiting for a slot or sending).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>
    /// Backpressure for the consumer: while the process already holds MaxConcurrency × 4 deliveries, new commands wait
    /// in the broker (within the prefetch) instead of piling up in memory.
    /// </summary>
    public async ValueTask WaitForRoomAsync(CancellationToken ct)
    {
        while (Volatile.Read(ref _inFlight) >= _options.MaxConcurrency * 4)
            await Task.Delay(10, ct);
    }

    /// <summary>How many deliveries of one webhook this process holds at most; more of them wait in the database.</summary>
    private int MaxHeldPerWebhook => _options.MaxConcurrencyPerWebhook * 8;

    /// <summary>
    /// Takes one of the webhook's <see cref="MaxHeldPerWebhook"/> places in this process for a delivery about to be
    /// dispatched; false when they are all taken (an endpoint that hangs): the delivery is then stored unclaimed and
    /// the scheduler takes it when the webhook has room. Without this, such an endpoint fills the whole process
    /// (MaxConcurrency × 4) with its own deliveries and the consumer stops taking commands for every webhook, so one
    /// hanging endpoint would delay all the others (the slow drill checks it does not). Check and take are one step:
    /// the broker hands the consumer up to the prefetch count of commands at once, and a separate check would let all
    /// of them through.
    /// </summary>
    public bool TryHold(Guid webhookId)
    {
        while (true)
        {
            var held = _heldPerWebhook.GetOrAdd(webhookId, 0);
            if (held >= MaxHeldPerWebhook) return false;
            if (_heldPerWebhook.TryUpdate(webhookId, held + 1, held)) return true;
        }
    }

    /// <summary>Gives back a place taken with <see cref="TryHold"/> for a delivery that was not dispatched after all.</summary>
    public void ReleaseHold(Guid webhookId) => _heldPerWebhook.AddOrUpdate(webhookId, 0, (_, n) => n - 1);

    /// <summary>The webhooks whose places are all taken now: the scheduler leaves their due deliveries alone.</summary>
    public Guid[] BusyWebhooks() => _heldPerWebhook.Where(kv => kv.Value >= MaxHeldPerWebhook).Select(kv => kv.Key).ToArray();

    /// <summary>Runs a claimed delivery; the caller has taken its webhook's place with <see cref="TryHold"/>, given back when it is done.</summary>
    public void Dispatch(WorkItem work)
    {
        Interlocked.Increment(ref _inFlight);
        var task = Task.Run(() => RunAsync(work, _stopping.Token));
        _running[task] = true;
        task.ContinueWith(t =>
        {
            _running.TryRemove(t, out _);
            ReleaseHold(work.WebhookId);
            Interlocked.Decrement(ref _inFlight);
        }, TaskScheduler.Default);
    }

    private async Task RunAsync(WorkItem work, CancellationToken stopping)
    {
        var perWebhook = _perWebhook.GetOrAdd(work.WebhookId, _ => new SemaphoreSlim(_options.MaxConcurrencyPerWebhook));
        try
        {
            await AttemptAsync(work, perWebhook, stopping);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            await ReleaseQuietlyAsync(work);
        }
        catch (Exception ex)
        {
            // The claim runs out and the scheduler tries again: nothing is lost.
            logger.LogError(ex, "Attempt of delivery {DeliveryId} failed unexpectedly; it is retried when its claim expires", work.DeliveryId);
        }
    }

    /// <summary>
    /// The webhook's slot (then a process-wide one) is held for the request only: loading the delivery before and
    /// recording its outcome after do not count against the endpoint's concurrency.
    /// </summary>
    private async Task AttemptAsync(WorkItem work, SemaphoreSlim perWebhook, CancellationToken stopping)
    {
        ClaimedDelivery? delivery;
        WebhookTarget? webhook;
        SendResult result;
        Activity? activity = null;
        try
        {
            await perWebhook.WaitAsync(stopping);
            try
            {
                await _global.WaitAsync(stopping);
                try
                {
                    // A fresh claim (taken with the delivery) is used as it is; one that waited for a slot is renewed
                    // first, so its lease covers the whole request and a claim another replica took over is noticed.
                    delivery = work.Loaded is { } loaded && Environment.TickCount64 - work.ClaimedAt < FreshClaimMs
                        ? loaded
                        : await store.StartAttemptAsync(work, stopping);
                    if (delivery is null) return;
                    ActivityContext.TryParse(delivery.Traceparent, null, out var parent);
                    activity = Telemetry.Source.StartActivity("webhook deliver", ActivityKind.Internal, parent);
                    activity?.SetTag("automations.entity", delivery.Entity);
                    activity?.SetTag("automations.project", delivery.Project);
                    activity?.SetTag("automations.automation_id", delivery.AutomationId);
                    activity?.SetTag("webhook.id", delivery.WebhookId);
                    activity?.SetTag("delivery.id", delivery.Id);
                    activity?.SetTag("delivery.attempt", delivery.Attempts + 1);
                    (webhook, result) = await SendOnceAsync(delivery, stopping);
                }
                finally
                {
                    _global.Release();
                }
            }
            finally
            {
                perWebhook.Release();
            }
            await RecordAsync(work, delivery, webhook, result, activity);
        }
        finally
        {
            activity?.Dispose();
        }
    }

    private async Task<(WebhookTarget? Webhook, SendResult Result)> SendOnceAsync(ClaimedDelivery delivery, CancellationToken stopping)
    {
        var (webhook, state) = await ControlViewAsync(delivery.WebhookId, stopping);
        string? blocked = null;
        if (webhook is null || webhook.Entity != delivery.Entity)
            blocked = "the webhook does not exist (deleted?)";
        else if (webhook.DisabledAt is not null)
            blocked = "the webhook is disabled: " + (webhook.DisabledReason ?? "by an admin");
        else if (state is { } st && st.DisabledAt >= webhook.UpdatedAt)
            blocked = "the webhook is disabled: " + st.Reason;

        if (blocked is not null)
            return (webhook, new SendResult(null, new Dictionary<string, string>(), null, blocked, 0, DateTimeOffset.UtcNow, true, null,
                webhook?.Url ?? "", new Dictionary<string, string>(), ""));
        return (webhook, await client.SendAsync(webhook!, delivery.Id, delivery.Payload, delivery.PayloadFormat, stopping));
    }

    private async Task RecordAsync(WorkItem work, ClaimedDelivery delivery, WebhookTarget? webhook, SendResult result, Activity? activity)
    {
        var number = delivery.Attempts + 1;
        DeliveryStore.Outcome outcome;
        DateTimeOffset? next = null;
        if (result.Success) outcome = DeliveryStore.Outcome.Succeeded;
        else if (result.StatusCode == 410) outcome = DeliveryStore.Outcome.Gone;
        else if (result.Refused || number >= delivery.MaxAttempts) outcome = DeliveryStore.Outcome.Failed;
        else
        {
            var delay = result.RetryAfter ?? _schedule.DelayAfter(number, Random.Shared.NextDouble());
            if (delay is null) outcome = DeliveryStore.Outcome.Failed;
            else
            {
                outcome = DeliveryStore.Outcome.Retry;
                next = DateTimeOffset.UtcNow + delay.Value;
            }
        }
        if (outcome == DeliveryStore.Outcome.Failed && !result.Refused && number >= delivery.MaxAttempts && !delivery.Manual)
            result = result with { Error = $"{result.Error}; gave up after {number} attempts" };

        activity?.SetTag("http.response.status_code", result.StatusCode);
        activity?.SetTag("delivery.outcome", outcome.ToString());
        if (!result.Success) activity?.SetStatus(ActivityStatusCode.Error, result.Error);

        // Record even when stopping: the request was sent, its outcome must not be lost.
        if (outcome == DeliveryStore.Outcome.Gone) _control.TryRemove(delivery.WebhookId, out _);
        metrics.Attempt(outcome, result.DurationMs);
        if (outcome == DeliveryStore.Outcome.Succeeded) metrics.Delivered(new DateTimeOffset(DateTime.SpecifyKind(delivery.OccurredAt, DateTimeKind.Utc)));
        if (!await RecordOutcomeAsync(work, delivery, result, outcome, next, webhook?.Entity))
            logger.LogWarning("Delivery {DeliveryId}: the claim was lost during attempt {Attempt}; another worker owns it", delivery.Id, number);
        else
            // A success is routine (hundreds a second under load: the attempt log, metrics and traces carry it): Debug.
            // Anything else is worth an operator's eye in the log.
            logger.Log(outcome == DeliveryStore.Outcome.Succeeded ? LogLevel.Debug : LogLevel.Information,
                "Delivery {DeliveryId} attempt {Attempt} to webhook {WebhookId}: {Outcome} {StatusCode} in {DurationMs:0} ms{Error}",
                delivery.Id, number, delivery.WebhookId, outcome, result.StatusCode, result.DurationMs, result.Error is null ? "" : " (" + result.Error + ")");
    }

    /// <summary>
    /// Writes the outcome of a request that was sent. A failure here would let the claim run out and the endpoint get
    /// the same webhook-id again, so a transient one (PostgreSQL restarting: a few seconds) is retried for up to two
    /// thirds of the claim margin. A commit whose answer was lost is found on the retry as a claim no longer held
    /// (false): its outbox rows were committed and go out through the relay.
    /// </summary>
    private async Task<bool> RecordOutcomeAsync(WorkItem work, ClaimedDelivery delivery, SendResult result, DeliveryStore.Outcome outcome,
        DateTimeOffset? next, string? webhookEntity)
    {
        var deadline = Environment.TickCount64 + (long)(_options.ClaimMargin.TotalMilliseconds * 2 / 3);
        var pause = 100;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await store.RecordAsync(work, delivery, result, outcome, next, webhookEntity, CancellationToken.None);
            }
            catch (Exception ex) when (ConsumerRetry.IsTransient(ex) && Environment.TickCount64 + pause < deadline)
            {
                if (attempt == 1)
                    logger.LogWarning("Recording attempt {Attempt} of delivery {DeliveryId} failed ({Error}); retrying", delivery.Attempts + 1, delivery.Id, ex.Message);
                await Task.Delay(pause);
                pause = Math.Min(pause * 2, 2_000);
            }
        }
    }

    /// <summary>
    /// The webhook (control) and the sender's own state for it, cached for Webhooks:ControlCacheTtl: at hundreds of
    /// deliveries a second to a few webhooks, reading them for every attempt costs more than the request itself.
    /// A 410 here drops the entry at once; an edit in the Api is seen within the TTL.
    /// </summary>
    private async Task<(WebhookTarget? Webhook, (DateTimeOffset DisabledAt, string Reason)? State)> ControlViewAsync(Guid webhookId, CancellationToken ct)
    {
        var now = Environment.TickCount64;
        if (_control.TryGetValue(webhookId, out var cached) && cached.Expires > now) return (cached.Webhook, cached.State);
        WebhookTarget? webhook;
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
            webhook = await WebhookQueries.FindAsync(connection, webhookId, ct);
        var state = await store.FindDisabledAsync(webhookId, ct);
        _control[webhookId] = (webhook, state, now + (long)_options.ControlCacheTtl.TotalMilliseconds);
        return (webhook, state);
    }

    private async Task ReleaseQuietlyAsync(WorkItem work)
    {
        try { await store.ReleaseAsync(work); }
        catch (Exception ex) { logger.LogWarning(ex, "Could not release delivery {DeliveryId}; it is retried when its claim expires", work.DeliveryId); }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        _stopping.Dispose();
        _global.Dispose();
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stopping.CancelAsync();
        try { await Task.WhenAll(_running.Keys).WaitAsync(cancellationToken); }
        catch (Exception) { /* each task logs its own failure; stopping must not throw */ }
    }
}
