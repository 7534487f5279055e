using Automations.Console.Session;

namespace Automations.Console.Api;

/// <summary>
/// The Api calls of the Projects pages (a project's Automations tab, an automation's history, team automations). A null
/// project is the team scope, as in the Api.
/// </summary>
public static class ProjectsApi
{
    /// <summary>The Api's path of a scope's automations, relative to the team.</summary>
    public static string AutomationsPath(string? project) =>
        project is null ? "/automations" : $"/projects/{ApiClient.Seg(project)}/automations";

    public static Task<ApiAnswer> ProjectsAsync(this TeamSession s, int limit, string? after) =>
        s.GetAsync($"/projects?limit={limit}{(after is null ? "" : "&after=" + ApiClient.Seg(after))}");

    public static Task<ApiAnswer> AutomationsAsync(this TeamSession s, string? project) => s.GetAsync(AutomationsPath(project));

    public static Task<ApiAnswer> AutomationAsync(this TeamSession s, string? project, Guid id) => s.GetAsync($"{AutomationsPath(project)}/{id}");

    public static Task<ApiAnswer> SetEnabledAsync(this TeamSession s, string? project, Guid id, bool enabled) =>
        s.PostAsync($"{AutomationsPath(project)}/{id}/{(enabled ? "enable" : "disable")}", new { });

    public static Task<ApiAnswer> DeleteAutomationAsync(this TeamSession s, string? project, Guid id) => s.DeleteAsync($"{AutomationsPath(project)}/{id}");

    /// <summary>One page of runs, newest first; the filters are the Api's (status, since and until as ISO 8601 UTC).</summary>
    public static Task<ApiAnswer> RunsAsync(this TeamSession s, string? project, Guid id, int limit, string? before, string? status, DateTimeOffset? since, DateTimeOffset? until)
    {
        var q = new List<string> { $"limit={limit}" };
        if (before is { Length: > 0 }) q.Add("before=" + ApiClient.Seg(before));
        if (status is { Length: > 0 }) q.Add("status=" + ApiClient.Seg(status));
        if (since is { } a) q.Add("since=" + ApiClient.Seg(a.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture)));
        if (until is { } b) q.Add("until=" + ApiClient.Seg(b.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture)));
        return s.GetAsync($"{AutomationsPath(project)}/{id}/runs?{string.Join('&', q)}");
    }

    /// <summary>A webhook's deliveries, newest first (at most 500), optionally of one status (pending, succeeded, failed).</summary>
    public static Task<ApiAnswer> DeliveriesAsync(this TeamSession s, Guid webhookId, string? status, int limit) =>
        s.GetAsync($"/webhooks/{webhookId}/deliveries?limit={limit}{(status is null ? "" : "&status=" + ApiClient.Seg(status))}");

    /// <summary>One delivery with its attempt log (responses masked by the sender).</summary>
    public static Task<ApiAnswer> DeliveryAsync(this TeamSession s, Guid deliveryId) => s.GetAsync($"/deliveries/{deliveryId}");

    public static Task<ApiAnswer> WebhookAsync(this TeamSession s, Guid webhookId) => s.GetAsync($"/webhooks/{webhookId}");

    public static Task<ApiAnswer> RedeliverAsync(this TeamSession s, Guid deliveryId) => s.PostAsync($"/deliveries/{deliveryId}/redeliver", new { });
}
