using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Automations.Core.Notifications;

/// <summary>Where a notification integration posts: a Slack or a Microsoft Teams incoming webhook.</summary>
public static class IntegrationKinds
{
    /// <summary>A plain webhook (signed, the author's own payload), not an integration.</summary>
    public const string Generic = "generic";
    public const string Slack = "slack";
    public const string Teams = "teams";

    public static readonly IReadOnlyList<string> Notification = [Slack, Teams];
}

/// <summary>W&amp;B's AlertSeverity, spelled in lower case (W&amp;B's INFO, WARN, ERROR are accepted too).</summary>
public static class Severities
{
    public const string Info = "info";
    public const string Warning = "warning";
    public const string Error = "error";

    public static readonly IReadOnlyList<string> All = [Info, Warning, Error];

    /// <summary>The stored spelling of <paramref name="value"/>, or null when it is not a severity.</summary>
    public static string? Normalize(string? value) => value?.Trim().ToLowerInvariant() switch
    {
        "info" => Info,
        "warn" or "warning" => Warning,
        "error" => Error,
        _ => null,
    };
}

/// <summary>
/// A notification (title, text, severity) as the payload template of its integration's kind: Slack Block Kit (a header,
/// a section and a context line) or a Teams Adaptive Card. The author's title and text go in as template strings, so
/// they take the same `${name}` variables and team secrets as a webhook payload, and the template is rendered and
/// delivered exactly as one (Rules renders it, the WebhookSender fills in secrets and sends it with its retries).
/// The context line names the automation and project through `${automation_name}` and `${project_name}`: values, so
/// nothing in them can become a secret reference.
/// </summary>
public static class NotificationMessage
{
    /// <summary>
    /// Slack refuses a header longer than 150 characters (plain_text); the header is the severity's emoji shortcode
    /// (at most 21 characters with its space) and the title.
    /// </summary>
    public const int MaxTitleLength = 128;

    /// <summary>Slack refuses a section text longer than this (mrkdwn, 3000 characters).</summary>
    public const int MaxTextLength = 3000;

    private static readonly JsonSerializerOptions Relaxed = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static string Emoji(string severity) => severity switch
    {
        Severities.Error => ":rotating_light:",
        Severities.Warning => ":warning:",
        _ => ":information_source:",
    };

    /// <summary>Adaptive Card text colour per severity (Teams has no emoji shortcodes).</summary>
    public static string TeamsColor(string severity) => severity switch
    {
        Severities.Error => "Attention",
        Severities.Warning => "Warning",
        _ => "Accent",
    };

    /// <summary>The payload template for <paramref name="kind"/>; <paramref name="severity"/> must be normalized.</summary>
    public static string Template(string kind, string title, string text, string severity) => kind switch
    {
        IntegrationKinds.Slack => Slack(title, text, severity),
        IntegrationKinds.Teams => Teams(title, text, severity),
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "not a notification integration kind"),
    };

    private const string Context = "${automation_name} · ${entity_name}/${project_name}";

    private static string Slack(string title, string text, string severity)
    {
        var header = $"{Emoji(severity)} {title}";
        var message = new JsonObject
        {
            // The notification's own line (phones, the channel list): Slack shows it where blocks cannot be shown.
            ["text"] = header,
            ["blocks"] = new JsonArray(
                new JsonObject
                {
                    ["type"] = "header",
                    ["text"] = new JsonObject { ["type"] = "plain_text", ["text"] = header, ["emoji"] = true },
                },
                new JsonObject
                {
                    ["type"] = "section",
                    ["text"] = new JsonObject { ["type"] = "mrkdwn", ["text"] = text },
                },
                new JsonObject
                {
                    ["type"] = "context",
                    ["elements"] = new JsonArray(new JsonObject
                    {
                        ["type"] = "mrkdwn",
                        ["text"] = $"{Emoji(severity)} *{severity.ToUpperInvariant()}* · {Context}",
                    }),
                }),
        };
        return message.ToJsonString(Relaxed);
    }

    /// <summary>The message a Teams Workflows webhook ("When a Teams webhook request is received") posts as a card.</summary>
    private static string Teams(string title, string text, string severity)
    {
        var card = new JsonObject
        {
            ["type"] = "AdaptiveCard",
            ["version"] = "1.4",
            ["body"] = new JsonArray(
                new JsonObject { ["type"] = "TextBlock", ["text"] = title, ["size"] = "Large", ["weight"] = "Bolder", ["color"] = TeamsColor(severity), ["wrap"] = true },
                new JsonObject { ["type"] = "TextBlock", ["text"] = text, ["wrap"] = true },
                new JsonObject
                {
                    ["type"] = "FactSet",
                    ["facts"] = new JsonArray(
                        new JsonObject { ["title"] = "Severity", ["value"] = severity.ToUpperInvariant() },
                        new JsonObject { ["title"] = "Automation", ["value"] = Context }),
                }),
        };
        var message = new JsonObject
        {
            ["type"] = "message",
            ["summary"] = title,
            ["attachments"] = new JsonArray(new JsonObject { ["contentType"] = "application/vnd.microsoft.card.adaptive", ["content"] = card }),
        };
        return message.ToJsonString(Relaxed);
    }

    /// <summary>
    /// The shown form of a secret URL: scheme, host and port, then <c>********</c> and the last four characters of
    /// the rest when it is long enough for them to say nothing (a Slack webhook path is about 70).
    /// </summary>
    public static string MaskUrl(string url)
    {
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) return Secrets.SecretMask.Mask;
        var rest = uri.PathAndQuery;
        var tail = rest.Length >= 24 ? rest[^4..] : "";
        return $"{uri.GetLeftPart(UriPartial.Authority)}/{Secrets.SecretMask.Mask}{tail}";
    }
}
