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

    // A heartbeat that fails is simply tried again at the next interval; an outcome report is worth waiting for (its
    // loss would cost a whole re-run), so it is retried for Agent:ReportRetrySeconds.
    public Task<ReportResult> HeartbeatAsync(ClaimedItem item, CancellationToken ct) => ReportAsync(item, "heartbeat", new { leaseId = item.LeaseId }, TimeSpan.Zero, ct);
    public Task<ReportResult> RunningAsync(ClaimedItem item, CancellationToken ct) => ReportAsync(item, "running", new { leaseId = item.LeaseId }, ReportRetry, ct);
    public Task<ReportResult> FinishedAsync(ClaimedItem item, int exitCode, CancellationToken ct) => ReportAsync(item, "finished", new { leaseId = item.LeaseId, exitCode }, ReportRetry, ct);
    public Task<ReportResult> FailedAsync(ClaimedItem item, string reason, CancellationToken ct) => ReportAsync(item, "failed", new { leaseId = item.LeaseId, reason }, ReportRetry, ct);
    public Task<ReportResult> ReleaseAsync(ClaimedItem item, CancellationToken ct) => ReportAsync(item, "release", new { leaseId = item.LeaseId }, ReportRetry, ct);

    private TimeSpan ReportRetry => TimeSpan.FromSeconds(options.Value.ReportRetrySeconds);

    /// <summary>Retried on network errors and 5xx until <paramref name="retryFor"/> has passed.</summary>
    private async Task<ReportResult> ReportAsync(ClaimedItem item, string what, object body, TimeSpan retryFor, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + retryFor;
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
            catch (Exception ex) when (DateTime.UtcNow < deadline && !ct.IsCancellationRequested && IsTransient(ex))
            {
                var delay = TimeSpan.FromMilliseconds(Math.Min(5000, 200 * Math.Pow(2, Math.Min(attempt, 5))));
                logger.LogWarning("Reporting {What} for item {QueueItemId} failed ({Error}); retrying in {Delay}", what, item.Id, ex.Message, delay);
                await Task.Delay(delay, ct);
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
