using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Automations.LaunchAgent.Api;

/// <summary>A claimed item as LaunchEnqueuer sends it.</summary>
public sealed record ClaimedItem(
    Guid Id,
    Guid LeaseId,
    DateTimeOffset LeaseExpiresAt,
    int Claims,
    Guid QueueId,
    Guid RunId,
    string Entity,
    string Project,
    string? TargetProject,
    Guid JobId,
    string? JobName,
    int JobVersion,
    string Command,
    JsonElement Args,
    JsonElement Config,
    JsonElement Event);

public enum ReportResult { Ok, LeaseLost }

/// <summary>The agent side of LaunchEnqueuer's /v1/agent API.</summary>
public sealed class LaunchApiClient(HttpClient http, IOptions<AgentOptions> options, ILogger<LaunchApiClient> logger)
{
    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    /// <returns>The item, or null when the queue stayed empty for the long-poll.</returns>
    public async Task<ClaimedItem?> ClaimAsync(Guid queueId, int waitSeconds, CancellationToken ct)
    {
        using var request = Request(HttpMethod.Post, $"v1/agent/queues/{queueId}/claim?wait={waitSeconds}&agent={Uri.EscapeDataString(options.Value.Name)}", null);
        using var response = await http.SendAsync(request, ct);
        if (response.StatusCode == HttpStatusCode.NoContent) return null;
        await EnsureSuccessAsync(response, ct);
        return await response.Content.ReadFromJsonAsync<ClaimedItem>(JsonOptions, ct);
    }

    public Task<ReportResult> HeartbeatAsync(ClaimedItem item, CancellationToken ct) => ReportAsync(item, "heartbeat", new { leaseId = item.LeaseId }, ct);
    public Task<ReportResult> RunningAsync(ClaimedItem item, CancellationToken ct) => ReportAsync(item, "running", new { leaseId = item.LeaseId }, ct);
    public Task<ReportResult> FinishedAsync(ClaimedItem item, int exitCode, CancellationToken ct) => ReportAsync(item, "finished", new { leaseId = item.LeaseId, exitCode }, ct);
    public Task<ReportResult> FailedAsync(ClaimedItem item, string reason, CancellationToken ct) => ReportAsync(item, "failed", new { leaseId = item.LeaseId, reason }, ct);
    public Task<ReportResult> ReleaseAsync(ClaimedItem item, CancellationToken ct) => ReportAsync(item, "release", new { leaseId = item.LeaseId }, ct);

    /// <summary>Reports are retried a few times on network errors and 5xx: a lost report would cost a whole re-run.</summary>
    private async Task<ReportResult> ReportAsync(ClaimedItem item, string what, object body, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                using var request = Request(HttpMethod.Post, $"v1/agent/items/{item.Id}/{what}", JsonContent.Create(body, options: JsonOptions));
                using var response = await http.SendAsync(request, ct);
                if (response.StatusCode == HttpStatusCode.Conflict) return ReportResult.LeaseLost;
                await EnsureSuccessAsync(response, ct);
                return ReportResult.Ok;
            }
            catch (Exception ex) when (attempt < 5 && !ct.IsCancellationRequested && IsTransient(ex))
            {
                logger.LogWarning("Reporting {What} for item {QueueItemId} failed ({Error}); retrying", what, item.Id, ex.Message);
                await Task.Delay(TimeSpan.FromMilliseconds(250 * attempt), ct);
            }
        }
    }

    private static bool IsTransient(Exception ex) =>
        ex is TaskCanceledException || (ex is HttpRequestException h && (h.StatusCode is null || (int)h.StatusCode >= 500));

    private HttpRequestMessage Request(HttpMethod method, string path, HttpContent? content)
    {
        var request = new HttpRequestMessage(method, path) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", options.Value.Key);
        return request;
    }

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        var detail = await response.Content.ReadAsStringAsync(ct);
        throw new HttpRequestException($"{(int)response.StatusCode} from LaunchEnqueuer: {(detail.Length > 500 ? detail[..500] : detail)}", null,
            response.StatusCode);
    }
}
