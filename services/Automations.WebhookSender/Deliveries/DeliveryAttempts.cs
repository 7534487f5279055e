using System.Diagnostics;
using Automations.ServiceDefaults;
using Automations.WebhookSender.Alerts;
using Automations.WebhookSender.Sending;
using Microsoft.Extensions.Options;

namespace Automations.WebhookSender.Deliveries;

/// <summary>
/// One attempt of a claimed delivery, run by the <see cref="DeliveryDispatcher"/>: load the delivery (renewing its claim
/// unless it is fresh), check its webhook, send, classify (<see cref="AttemptClassifier"/>), record the outcome with its
/// outbox messages, and report it (span, metrics, log).
/// </summary>
public sealed class DeliveryAttempts(
    DeliveryStore store,
    WebhookDirectory webhooks,
    WebhookClient client,
    IOptions<WebhookOptions> options,
    DeliveryMetrics metrics,
    AlertSettingsDirectory alerts,
    ILogger<DeliveryAttempts> logger)
{
    private readonly WebhookOptions _options = options.Value;
    private readonly AttemptClassifier _classifier = AttemptClassifier.From(options.Value);

    /// <summary>A claim younger than this is used without renewing it (its lease is Timeout + ClaimMargin).</summary>
    private long FreshClaimMs => (long)Math.Min(_options.ClaimMargin.TotalMilliseconds / 2, 10_000);

    /// <param name="enterRequest">
    /// takes the delivery's request slots; they are held while the delivery is loaded and its request sent, not while the
    /// outcome is recorded.
    /// </param>
    /// <param name="stopping">cancels an attempt not sent yet or in flight (the caller gives its claim back).</param>
    public async Task RunAsync(WorkItem work, EnterRequest enterRequest, CancellationToken stopping)
    {
        ClaimedDelivery? delivery;
        KnownWebhook? webhook;
        SendResult result;
        Activity? activity = null;
        try
        {
            using (await enterRequest(stopping))
            {
                // A fresh claim (taken with the delivery) is used as it is; one that waited for a slot is renewed first,
                // so its lease covers the whole request and a claim another replica took over is noticed.
                delivery = work.Loaded is { } loaded && Environment.TickCount64 - work.ClaimedAt < FreshClaimMs
                    ? loaded
                    : await store.StartAttemptAsync(work, stopping);
                if (delivery is null) return;
                activity = StartActivity(delivery);
                (webhook, result) = await SendAsync(delivery, stopping);
            }
            await RecordAsync(work, delivery, webhook, result, activity);
        }
        finally
        {
            activity?.Dispose();
        }
    }

    private static Activity? StartActivity(ClaimedDelivery delivery)
    {
        ActivityContext.TryParse(delivery.Traceparent, null, out var parent);
        var activity = Telemetry.Source.StartActivity("webhook deliver", ActivityKind.Internal, parent);
        activity?.SetTag("automations.entity", delivery.Entity);
        activity?.SetTag("automations.project", delivery.Project);
        activity?.SetTag("automations.automation_id", delivery.AutomationId);
        activity?.SetTag("webhook.id", delivery.WebhookId);
        activity?.SetTag("delivery.id", delivery.Id);
        activity?.SetTag("delivery.attempt", delivery.Attempts + 1);
        return activity;
    }

    private async Task<(KnownWebhook? Webhook, SendResult Result)> SendAsync(ClaimedDelivery delivery, CancellationToken stopping)
    {
        var webhook = await webhooks.FindAsync(delivery.WebhookId, stopping);
        // A redelivery by hand often follows re-enabling the webhook (POST /enable): a disabled copy may predate that.
        if (delivery.Manual && webhook?.Disabled is not null) webhook = await webhooks.LoadAsync(delivery.WebhookId, stopping);
        var blocked = webhook is null || webhook.Entity != delivery.Entity ? "the webhook does not exist (deleted?)" : webhook.Disabled;
        if (blocked is not null)
            return (webhook, SendResult.Refused(blocked) with { RequestUrl = webhook?.Url ?? "", StartedAt = DateTimeOffset.UtcNow });
        var request = await webhooks.PrepareAsync(webhook!, delivery.Id, delivery.Payload, delivery.PayloadFormat, stopping);
        return (webhook, await client.SendAsync(request, stopping));
    }

    private async Task RecordAsync(WorkItem work, ClaimedDelivery delivery, KnownWebhook? webhook, SendResult result, Activity? activity)
    {
        var number = delivery.Attempts + 1;
        var verdict = _classifier.Classify(result, number, delivery.MaxAttempts, delivery.Manual, DateTimeOffset.UtcNow, Random.Shared.NextDouble());
        result = result with { Error = verdict.Error };

        activity?.SetTag("http.response.status_code", result.StatusCode);
        activity?.SetTag("delivery.outcome", verdict.Outcome.ToString());
        if (!result.Success) activity?.SetStatus(ActivityStatusCode.Error, result.Error);
        metrics.Attempt(verdict.Outcome, result.DurationMs);
        if (verdict.Outcome == DeliveryStore.Outcome.Succeeded)
            metrics.Delivered(new DateTimeOffset(DateTime.SpecifyKind(delivery.OccurredAt, DateTimeKind.Utc)));

        var health = await HealthAsync(delivery, webhook, verdict.Outcome);
        // Recorded even when stopping: the request was sent, its outcome must not be lost.
        var outcome = await RecordOutcomeAsync(work, delivery, result, verdict, webhook?.Entity, health);
        var recorded = outcome.Moved;
        // The next attempt must see a 410, an incident opened or closed here, a webhook disabled.
        if (verdict.Outcome == DeliveryStore.Outcome.Gone || outcome.IncidentChanges.Count > 0) webhooks.Forget(delivery.WebhookId);
        foreach (var change in outcome.IncidentChanges)
        {
            metrics.Incident(change);
            logger.LogWarning("Webhook {WebhookId} of {Entity}: incident {Change} (attempt {Attempt} of delivery {DeliveryId})",
                delivery.WebhookId, delivery.Entity, change, number, delivery.Id);
        }
        if (!recorded && work.Unstored is not null)
            logger.LogWarning("Delivery {DeliveryId}: another copy of its command stored it during attempt {Attempt}; this outcome is not recorded", delivery.Id, number);
        else if (!recorded)
            logger.LogWarning("Delivery {DeliveryId}: the claim was lost during attempt {Attempt}; another worker owns it", delivery.Id, number);
        else
            // A success is routine (hundreds a second under load: the attempt log, metrics and traces carry it): Debug.
            // Anything else is worth an operator's eye in the log.
            logger.Log(verdict.Outcome == DeliveryStore.Outcome.Succeeded ? LogLevel.Debug : LogLevel.Information,
                "Delivery {DeliveryId} attempt {Attempt} to webhook {WebhookId}: {Outcome} {StatusCode} in {DurationMs:0} ms{Error}",
                delivery.Id, number, delivery.WebhookId, verdict.Outcome, result.StatusCode, result.DurationMs, result.Error is null ? "" : " (" + result.Error + ")");
    }

    /// <summary>
    /// What this attempt means for its webhook's health (docs/alerts.md); null when it does not count: an alert's own
    /// delivery (an alert about the alert channel would go to the failing channel), or a webhook deleted or disabled
    /// (no request was sent). A failure reads the team's thresholds (kept for ControlCacheTtl); a success reads nothing.
    /// </summary>
    private async Task<HealthInput?> HealthAsync(ClaimedDelivery delivery, KnownWebhook? webhook, DeliveryStore.Outcome outcome)
    {
        if (delivery.AutomationId == AlertDelivery.AutomationId || webhook is null || webhook.Entity != delivery.Entity || webhook.Disabled is not null)
            return null;
        if (outcome == DeliveryStore.Outcome.Succeeded) return new HealthInput(null, webhook.UpdatedAt, webhook.OpenIncident);
        AlertSettings settings;
        try
        {
            settings = await alerts.FindAsync(delivery.Entity, CancellationToken.None);
        }
        catch (Exception ex) when (ConsumerRetry.IsTransient(ex))
        {
            // The outcome matters more than the thresholds: record it against the defaults.
            logger.LogWarning("Reading the alert settings of {Entity} failed ({Error}); using the defaults", delivery.Entity, ex.Message);
            settings = alerts.Defaults;
        }
        return new HealthInput(settings, webhook.UpdatedAt, webhook.OpenIncident);
    }

    /// <summary>
    /// Writes the outcome of a request that was sent. A failure here would let the claim run out and the endpoint get
    /// the same webhook-id again, so a transient one (PostgreSQL restarting: a few seconds) is retried for up to two
    /// thirds of the claim margin. A commit whose answer was lost is found on the retry as a claim no longer held
    /// (false): its outbox rows were committed and go out through the relay.
    /// </summary>
    private async Task<DeliveryStore.Recorded> RecordOutcomeAsync(WorkItem work, ClaimedDelivery delivery, SendResult result, AttemptVerdict verdict, string? webhookEntity, HealthInput? health)
    {
        var deadline = Environment.TickCount64 + (long)(_options.ClaimMargin.TotalMilliseconds * 2 / 3);
        var pause = 100;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await store.RecordAsync(work, delivery, result, verdict.Outcome, verdict.NextAttemptAt, webhookEntity, health, CancellationToken.None);
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
}
