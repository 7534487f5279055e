using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Automations.Core.Templates;

namespace Automations.Core.Notifications;

/// <summary>What an operational alert says about one change of a failing webhook's incident (docs/alerts.md).</summary>
/// <param name="Change">opened, recovered or disabled.</param>
public sealed record IncidentAlertFacts(
    string Change,
    Guid IncidentId,
    string Entity,
    Guid WebhookId,
    string WebhookName,
    string WebhookKind,
    string Reason,
    DateTimeOffset FailingSince,
    DateTimeOffset OpenedAt,
    DateTimeOffset? ClosedAt,
    DateTimeOffset? DisabledAt,
    string? DisabledReason,
    DateTimeOffset At);

/// <summary>
/// The body of an operational alert, as a sealed payload (docs/rules.md): a Slack or Teams message for a notification
/// integration (the same templates as a notification automation), a JSON document for an operational webhook. Every
/// value is text (no `${NAME}` of it is ever a secret reference). Pure.
/// </summary>
public static class IncidentAlert
{
    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Severity(string change) => change switch
    {
        "opened" => Severities.Warning,
        "disabled" => Severities.Error,
        _ => Severities.Info,
    };

    public static string Title(IncidentAlertFacts f)
    {
        var what = f.WebhookKind == IntegrationKinds.Generic ? "Webhook" : "Integration";
        return f.Change switch
        {
            "opened" => $"{what} '{f.WebhookName}' is failing",
            "disabled" => $"{what} '{f.WebhookName}' was disabled",
            _ => $"{what} '{f.WebhookName}' recovered",
        };
    }

    public static string Text(IncidentAlertFacts f) => f.Change switch
    {
        "opened" => $"{f.Reason}. Failing since {Time(f.FailingSince)}; deliveries are still retried. Incident {f.IncidentId}.",
        "disabled" => $"{f.DisabledReason ?? f.Reason}. Failing since {Time(f.FailingSince)}; nothing is sent to it until an admin " +
                      $"re-enables it (POST /v1/entities/{f.Entity}/webhooks/{f.WebhookId}/enable, which can redeliver what failed). Incident {f.IncidentId}.",
        _ => $"A delivery succeeded at {Time(f.ClosedAt ?? f.At)} after failures since {Time(f.FailingSince)} ({f.Reason}). Incident {f.IncidentId} is closed.",
    };

    /// <param name="channelKind">the alert channel's kind: generic (an operational webhook), slack or teams.</param>
    public static string Payload(string channelKind, IncidentAlertFacts f)
    {
        if (channelKind is IntegrationKinds.Slack or IntegrationKinds.Teams)
        {
            // The values go in through the template's variables: they are sealed as values, never read as references.
            var template = NotificationMessage.Template(channelKind, "${alert_title}", "${alert_text}", Severity(f.Change));
            return PayloadTemplate.Render(template, new Dictionary<string, string>
            {
                ["alert_title"] = Title(f),
                ["alert_text"] = Text(f),
                ["automation_name"] = "operational alert",
                ["entity_name"] = f.Entity,
                ["project_name"] = "webhooks",
            });
        }
        var body = new JsonObject
        {
            ["type"] = $"webhook.incident.{f.Change}",
            ["entity"] = f.Entity,
            ["webhook"] = new JsonObject { ["id"] = f.WebhookId, ["name"] = f.WebhookName, ["kind"] = f.WebhookKind },
            ["incident"] = new JsonObject
            {
                ["id"] = f.IncidentId,
                ["reason"] = f.Reason,
                ["failingSince"] = f.FailingSince,
                ["openedAt"] = f.OpenedAt,
                ["closedAt"] = f.ClosedAt,
                ["disabledAt"] = f.DisabledAt,
                ["disabledReason"] = f.DisabledReason,
            },
            ["title"] = Title(f),
            ["text"] = Text(f),
            ["at"] = f.At,
        };
        return PayloadTemplate.SealLiteral(body.ToJsonString(Relaxed));
    }

    private static string Time(DateTimeOffset t) => t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss 'UTC'", CultureInfo.InvariantCulture);
}
