using Automations.Contracts;
using Automations.Core.Notifications;
using Automations.Persistence.Control;
using Automations.ServiceDefaults;
using Automations.WebhookSender.Deliveries;
using Automations.WebhookSender.Sending;
using Dapper;
using MassTransit;
using Npgsql;

namespace Automations.WebhookSender.Alerts;

/// <summary>
/// Turns an incident change into an alert: an ordinary delivery (durable retries, attempt log, redelivery by hand) to
/// the team's alert channel, rendered for its kind (Slack, Teams, or a JSON webhook signed as usual). The delivery is
/// unique on the message's AlertId, so a message delivered twice alerts once. No channel, a channel gone or of
/// another team, or a channel that is the failing webhook itself: nothing is sent (the incident is still recorded and
/// listed, and counted in the metrics).
/// </summary>
public sealed class WebhookIncidentChangedConsumer(
    NpgsqlDataSource dataSource, AlertSettingsDirectory settings, WebhookDirectory webhooks, DeliveryStore store, DeliveryScheduler scheduler,
    ILogger<WebhookIncidentChangedConsumer> logger) : IConsumer<WebhookIncidentChanged>
{
    public async Task Consume(ConsumeContext<WebhookIncidentChanged> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        var channelId = (await settings.FindAsync(m.Entity, ct)).ChannelWebhookId;
        if (channelId is not { } channel || channel == m.WebhookId)
        {
            logger.LogInformation("Incident {IncidentId} of webhook {WebhookId} {Change}: no alert ({Why})", m.IncidentId, m.WebhookId, m.Change,
                channelId is null ? "the team has no alert channel" : "the failing webhook is the alert channel");
            return;
        }
        var target = await webhooks.FindAsync(channel, ct);
        if (target is null || target.Entity != m.Entity)
        {
            logger.LogWarning("Incident {IncidentId} of webhook {WebhookId} {Change}: the alert channel {Channel} does not exist", m.IncidentId, m.WebhookId, m.Change, channel);
            return;
        }
        IncidentAlertFacts? facts;
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
        {
            var row = await connection.QuerySingleOrDefaultAsync<IncidentRow>(new CommandDefinition(
                """
                select reason as Reason, failing_since as FailingSince, opened_at as OpenedAt, closed_at as ClosedAt, disabled_at as DisabledAt,
                       disabled_reason as DisabledReason
                from delivery.incidents where id = @IncidentId
                """, new { m.IncidentId }, cancellationToken: ct));
            var failing = await WebhookQueries.FindAsync(connection, m.WebhookId, ct);
            facts = row is null ? null : new IncidentAlertFacts(m.Change, m.IncidentId, m.Entity, m.WebhookId, failing?.Name ?? m.WebhookId.ToString(),
                failing?.Kind ?? IntegrationKinds.Generic, row.Reason, Utc(row.FailingSince), Utc(row.OpenedAt), UtcOrNull(row.ClosedAt),
                UtcOrNull(row.DisabledAt), row.DisabledReason, m.At);
        }
        if (facts is null)
        {
            logger.LogWarning("Incident {IncidentId} of webhook {WebhookId} is not recorded; no alert", m.IncidentId, m.WebhookId);
            return;
        }
        var command = new SendWebhook(m.AlertId, m.IncidentId, m.IncidentId, AlertDelivery.AutomationId, m.Entity, AlertDelivery.Project, channel,
            IncidentAlert.Payload(target.Kind, facts), m.At, SendWebhook.SealedPayload);
        await store.CreateAsync(command, claimed: false, ct);
        scheduler.Wake();
        logger.LogInformation("Incident {IncidentId} of webhook {WebhookId} {Change}: alert {AlertId} to {Channel}", m.IncidentId, m.WebhookId, m.Change, m.AlertId, channel);
    }

    private static DateTimeOffset Utc(DateTime t) => new(DateTime.SpecifyKind(t, DateTimeKind.Utc));
    private static DateTimeOffset? UtcOrNull(DateTime? t) => t is { } v ? Utc(v) : null;

    private sealed class IncidentRow
    {
        public string Reason { get; set; } = "";
        public DateTime FailingSince { get; set; }
        public DateTime OpenedAt { get; set; }
        public DateTime? ClosedAt { get; set; }
        public DateTime? DisabledAt { get; set; }
        public string? DisabledReason { get; set; }
    }
}

public sealed class WebhookIncidentChangedConsumerDefinition() : RetryingConsumerDefinition<WebhookIncidentChangedConsumer>(Queue)
{
    public const string Queue = "webhook-incident-alerts";
}
