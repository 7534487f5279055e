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
    ILogger<DeliveryDispatcher> logger) : IHostedService, IDisposable
{
    private readonly WebhookOptions _options = options.Value;
    private readonly RetrySchedule _schedule = options.Value.Schedule();
    private readonly ConcurrentDictionary<Guid, SemaphoreSlim> _perWebhook = new();
    private readonly SemaphoreSlim _global = new(options.Value.MaxConcurrency);
    private readonly ConcurrentDictionary<Task, bool> _running = new();
    private readonly ConcurrentDictionary<Guid, (WebhookTarget? Webhook, (DateTimeOffset DisabledAt, string Reason)? State, long Expires)> _control = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _inFlight;

    /// <summary>Deliveries handed over and not finished yet (waiting for a slot or sending).</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    public void Dispatch(WorkItem work)
    {
        Interlocked.Increment(ref _inFlight);
        var task = Task.Run(() => RunAsync(work, _stopping.Token));
        _running[task] = true;
        task.ContinueWith(t =>
        {
            _running.TryRemove(t, out _);
            Interlocked.Decrement(ref _inFlight);
        }, TaskScheduler.Default);
    }

    private async Task RunAsync(WorkItem work, CancellationToken stopping)
    {
        var perWebhook = _perWebhook.GetOrAdd(work.WebhookId, _ => new SemaphoreSlim(_options.MaxConcurrencyPerWebhook));
        try
        {
            await perWebhook.WaitAsync(stopping);
            try
            {
                await _global.WaitAsync(stopping);
                try
                {
                    await AttemptAsync(work, stopping);
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

    private async Task AttemptAsync(WorkItem work, CancellationToken stopping)
    {
        var delivery = await store.StartAttemptAsync(work, stopping);
        if (delivery is null) return;

        ActivityContext.TryParse(delivery.Traceparent, null, out var parent);
        using var activity = Telemetry.Source.StartActivity("webhook deliver", ActivityKind.Internal, parent);
        activity?.SetTag("webhook.id", delivery.WebhookId);
        activity?.SetTag("delivery.id", delivery.Id);
        activity?.SetTag("delivery.attempt", delivery.Attempts + 1);

        var (webhook, state) = await ControlViewAsync(delivery.WebhookId, stopping);
        string? blocked = null;
        if (webhook is null || webhook.Entity != delivery.Entity)
            blocked = "the webhook does not exist (deleted?)";
        else if (webhook.DisabledAt is not null)
            blocked = "the webhook is disabled: " + (webhook.DisabledReason ?? "by an admin");
        else if (state is { } st && st.DisabledAt >= webhook.UpdatedAt)
            blocked = "the webhook is disabled: " + st.Reason;

        SendResult result;
        if (blocked is not null)
            result = new SendResult(null, new Dictionary<string, string>(), null, blocked, 0, DateTimeOffset.UtcNow, true, null,
                webhook?.Url ?? "", new Dictionary<string, string>(), "");
        else
            result = await client.SendAsync(webhook!, delivery.Id, delivery.Payload, stopping);

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
        if (!await store.RecordAsync(work, delivery, result, outcome, next, webhook?.Entity, CancellationToken.None))
            logger.LogWarning("Delivery {DeliveryId}: the claim was lost during attempt {Attempt}; another worker owns it", delivery.Id, number);
        else
            logger.LogInformation("Delivery {DeliveryId} attempt {Attempt} to webhook {WebhookId}: {Outcome} {StatusCode} in {DurationMs:0} ms{Error}",
                delivery.Id, number, delivery.WebhookId, outcome, result.StatusCode, result.DurationMs, result.Error is null ? "" : " (" + result.Error + ")");
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
