using System.Globalization;
using System.Text.Json;
using System.Xml;
using Automations.Console.Session;

namespace Automations.Console.Api;

/// <summary>
/// The Api calls of the Launch, Audit and Alerts pages (docs/launch.md, docs/audit.md, docs/alerts.md), with the
/// signed-in user's key: the Api decides who may do what (queues are created by admins, jobs and versions by members,
/// the audit trail and alert settings are read by admins).
/// </summary>
public static class OpsApi
{
    /// <summary>A queue item's states, in the order the page groups them (the Api's own list).</summary>
    public static readonly string[] QueueStates = ["queued", "claimed", "running", "finished", "failed"];

    /// <summary>The audit trail's kinds and actions as the Api accepts them (docs/audit.md).</summary>
    public static readonly string[] AuditKinds =
        ["secret", "webhook", "integration", "automation", "team_automation", "key", "member", "queue", "job", "job_version", "config_apply", "alert_settings"];

    public static readonly string[] AuditActions = ["create", "update", "delete", "enable", "disable", "revoke", "apply"];

    /// <summary>Entries per audit page: the Api gives up to 500, a page reads better with fewer.</summary>
    public const int AuditPageSize = 50;

    public static Task<ApiAnswer> QueuesAsync(this TeamSession s) => s.GetAsync("/queues");

    public static Task<ApiAnswer> QueueItemsAsync(this TeamSession s, string queueId, string? state) =>
        s.GetAsync($"/queues/{ApiClient.Seg(queueId)}/items?limit=100{(state is null ? "" : "&state=" + ApiClient.Seg(state))}");

    public static Task<ApiAnswer> CreateQueueAsync(this TeamSession s, string name, string? description) =>
        s.PostAsync("/queues", new { name, description });

    public static Task<ApiAnswer> JobsAsync(this TeamSession s) => s.GetAsync("/jobs");

    /// <summary>One job with all its versions.</summary>
    public static Task<ApiAnswer> JobAsync(this TeamSession s, Guid id) => s.GetAsync($"/jobs/{id}");

    public static Task<ApiAnswer> CreateJobAsync(this TeamSession s, string name, string? description) =>
        s.PostAsync("/jobs", new { name, description });

    /// <param name="defaultConfig">a JSON object's text, already checked.</param>
    public static Task<ApiAnswer> AddJobVersionAsync(this TeamSession s, Guid job, string command, IReadOnlyList<string> args, string defaultConfig) =>
        s.PostAsync($"/jobs/{job}/versions",
            $$"""{"command":{{JsonSerializer.Serialize(command)}},"args":{{JsonSerializer.Serialize(args)}},"defaultConfig":{{defaultConfig}}}""");

    /// <param name="filters">the set filters only (Api name → value); an unset one means "any".</param>
    public static Task<ApiAnswer> AuditAsync(this TeamSession s, IEnumerable<KeyValuePair<string, string>> filters, string? cursor) =>
        s.GetAsync($"/audit?limit={AuditPageSize}" + string.Concat(filters.Select(f => $"&{f.Key}={ApiClient.Seg(f.Value)}"))
                   + (cursor is { Length: > 0 } ? "&cursor=" + ApiClient.Seg(cursor) : ""));

    public static Task<ApiAnswer> AlertSettingsAsync(this TeamSession s) => s.GetAsync("/alerts");

    public static Task<ApiAnswer> PutAlertSettingsAsync(this TeamSession s, int consecutiveFailures, string failingFor, string disableAfter, Guid? channel) =>
        s.PutAsync("/alerts", new { consecutiveFailures, failingFor, disableAfter, channel });

    public static Task<ApiAnswer> IncidentsAsync(this TeamSession s, Guid webhook) => s.GetAsync($"/webhooks/{webhook}/incidents");

    /// <summary>Enables a disabled webhook or integration; with <paramref name="redeliverFailed"/>, what failed during its latest incident is sent again.</summary>
    public static Task<ApiAnswer> EnableWebhookAsync(this TeamSession s, Guid webhook, bool redeliverFailed) =>
        s.PostAsync($"/webhooks/{webhook}/enable", redeliverFailed ? new { redeliverFailed = true } : new { });

    public static Task<ApiAnswer> WebhooksAsync(this TeamSession s) => s.GetAsync("/webhooks");

    /// <summary>Integrations are listed to admins only; a member's picker shows the webhooks alone.</summary>
    public static Task<ApiAnswer> IntegrationsAsync(this TeamSession s) => s.GetAsync("/integrations");

    /// <summary>
    /// "History is kept for 30 days (since 4 Nov 2026)." from an answer's <c>retention</c>, or null when it has none: finished
    /// queue items and audit entries older than that are gone, so an empty list does not mean nothing ever happened.
    /// </summary>
    public static string? Reach(JsonElement answer)
    {
        if (answer.ValueKind != JsonValueKind.Object || !answer.TryGetProperty("retention", out var r) || r.ValueKind != JsonValueKind.Object) return null;
        TimeSpan keptFor;
        try { keptFor = XmlConvert.ToTimeSpan(ApiAnswer.Str(r, "keptFor")); }
        catch (FormatException) { return null; }
        catch (OverflowException) { return null; }
        if (ApiAnswer.Time(r, "since") is not { } since) return null;
        since = since.ToUniversalTime();
        var shown = since.ToString(keptFor < TimeSpan.FromDays(1) ? "d MMM yyyy HH:mm:ss 'UTC'" : "d MMM yyyy", CultureInfo.InvariantCulture);
        return $"History is kept for {Duration(keptFor)} (since {shown}).";
    }

    /// <summary>"30 days", "1 day 12 hours", "10 seconds".</summary>
    public static string Duration(TimeSpan t)
    {
        var parts = new List<string>();
        void Add(int n, string unit) { if (n > 0) parts.Add($"{n} {unit}{(n == 1 ? "" : "s")}"); }
        Add((int)t.TotalDays, "day");
        Add(t.Hours, "hour");
        Add(t.Minutes, "minute");
        Add(t.Seconds, "second");
        return parts.Count == 0 ? "less than a second" : string.Join(' ', parts);
    }

    /// <summary>An ISO 8601 duration in words ("PT6H" → "6 hours"), or the text as it is when it is not one.</summary>
    public static string DurationText(string iso)
    {
        try { return Duration(XmlConvert.ToTimeSpan(iso)); }
        catch (FormatException) { return iso; }
        catch (OverflowException) { return iso; }
    }

    /// <summary>Where a text stops being a JSON object, in words (line and character, counted from 1), or null.</summary>
    public static string? JsonObjectError(string label, string text)
    {
        try
        {
            using var doc = JsonDocument.Parse(text);
            return doc.RootElement.ValueKind == JsonValueKind.Object ? null : $"{label} must be a JSON object, such as {{\"lr\": 0.1}}.";
        }
        catch (JsonException ex)
        {
            return $"{label} is not valid JSON: the problem is at line {(ex.LineNumber ?? 0) + 1}, character {(ex.BytePositionInLine ?? 0) + 1}.";
        }
    }

    /// <summary>Indented JSON for a folded before/after or a default config.</summary>
    public static string Pretty(JsonElement e) => JsonSerializer.Serialize(e, Indented);

    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
}
