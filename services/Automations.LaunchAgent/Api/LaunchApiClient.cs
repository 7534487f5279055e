using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.Sockets;
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
    JsonElement Event,
    string? Traceparent = null);

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

    // Heartbeat and running are tried once: the runner sends them again at its next interval (running until it is
    // acknowledged). An outcome is worth waiting for (its loss costs a whole re-run): finished and failed are retried
    // until LaunchEnqueuer answers, accepted or lease lost. A hand-back (at shutdown) is retried for Agent:ReportRetrySeconds.
    public Task<ReportResult> HeartbeatAsync(ClaimedItem item, CancellationToken ct) => SendReportAsync(item, "heartbeat", new { leaseId = item.LeaseId }, ct);
    public Task<ReportResult> RunningAsync(ClaimedItem item, CancellationToken ct) => SendReportAsync(item, "running", new { leaseId = item.LeaseId }, ct);
    public Task<ReportResult> FinishedAsync(ClaimedItem item, int exitCode, CancellationToken ct) => ReportUntilAnsweredAsync(item, "finished", new { leaseId = item.LeaseId, exitCode }, null, ct);
    public Task<ReportResult> FailedAsync(ClaimedItem item, string reason, CancellationToken ct) => ReportUntilAnsweredAsync(item, "failed", new { leaseId = item.LeaseId, reason }, null, ct);
    public Task<ReportResult> ReleaseAsync(ClaimedItem item, CancellationToken ct) => ReportUntilAnsweredAsync(item, "release", new { leaseId = item.LeaseId }, TimeSpan.FromSeconds(options.Value.ReportRetrySeconds), ct);

    /// <summary>
    /// Sends the report until LaunchEnqueuer answers it (200, or 409 when the lease is lost): transient failures
    /// (<see cref="IsTransient"/>) are retried with backoff, for <paramref name="retryFor"/> at most (null: until
    /// <paramref name="ct"/> fires). A refusal (another 4xx) is thrown at once.
    /// </summary>
    private async Task<ReportResult> ReportUntilAnsweredAsync(ClaimedItem item, string what, object body, TimeSpan? retryFor, CancellationToken ct)
    {
        var started = DateTime.UtcNow;
        var lastLogged = DateTime.MinValue;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                var result = await SendReportAsync(item, what, body, ct);
                if (attempt > 1)
                    logger.LogInformation("Reporting {What} for item {QueueItemId} was answered after {Attempts} attempts ({Elapsed:F1} s)", what, item.Id, attempt, (DateTime.UtcNow - started).TotalSeconds);
                return result;
            }
            catch (Exception ex) when (IsTransient(ex, ct) && (retryFor is not { } limit || DateTime.UtcNow - started < limit))
            {
                var delay = Backoff(attempt);
                // Every failure at first, then about every 30 s: an outage of hours must not flood the log.
                if (attempt <= 3 || DateTime.UtcNow - lastLogged >= TimeSpan.FromSeconds(30))
                {
                    logger.LogWarning("Reporting {What} for item {QueueItemId} failed (attempt {Attempt}, {Error}: {Message}); retrying in {Delay}",
                        what, item.Id, attempt, ex.GetType().Name, ex.Message, delay);
                    lastLogged = DateTime.UtcNow;
                }
                await Task.Delay(delay, ct);
            }
        }
    }

    /// <summary>
    /// Exponential from 200 ms, with jitter, capped at Agent:HeartbeatSeconds (at most 5 s): once LaunchEnqueuer is back
    /// the outcome lands within about one heartbeat interval, the cadence its lease is sized for, so a report is not lost
    /// to a lease that ran out while the agent was merely waiting to retry.
    /// </summary>
    private TimeSpan Backoff(int attempt)
    {
        var capMs = Math.Clamp(options.Value.HeartbeatSeconds * 1000, 200, 5000);
        var ms = Math.Min(capMs, 200 * Math.Pow(2, Math.Min(attempt - 1, 10)));
        return TimeSpan.FromMilliseconds(ms * (0.8 + 0.4 * Random.Shared.NextDouble()));
    }

    /// <summary>One attempt, bounded by Agent:ReportTimeoutSeconds (a report is one short transaction, never a long-poll).</summary>
    private async Task<ReportResult> SendReportAsync(ClaimedItem item, string what, object body, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(TimeSpan.FromSeconds(options.Value.ReportTimeoutSeconds));
        using var request = Request(HttpMethod.Post, $"v1/agent/items/{item.Id}/{what}", JsonContent.Create(body, options: JsonOptions));
        using var response = await http.SendAsync(request, timeout.Token);
        if (response.StatusCode == HttpStatusCode.Conflict) return ReportResult.LeaseLost;
        await EnsureSuccessAsync(response, timeout.Token);
        return ReportResult.Ok;
    }

    /// <summary>
    /// Whether a call that failed with <paramref name="ex"/> may succeed if made again: LaunchEnqueuer unreachable or
    /// failing (5xx, 408, 429), a connection refused, reset or cut, a timeout. Not a refusal (400, 401, 403, 404), and not
    /// <paramref name="ct"/> (the caller's own cancellation). HttpClient does not wrap every network failure in an
    /// HttpRequestException: SocketsHttpHandler lets a bare SocketException (ENOTCONN, "Transport endpoint is not
    /// connected") escape when the peer resets a connection as it is being set up, and response streams throw IOException.
    /// </summary>
    public static bool IsTransient(Exception ex, CancellationToken ct) => ex switch
    {
        OperationCanceledException => !ct.IsCancellationRequested, // HttpClient.Timeout or Agent:ReportTimeoutSeconds
        HttpRequestException { StatusCode: { } status } => (int)status >= 500 || status is HttpStatusCode.RequestTimeout or HttpStatusCode.TooManyRequests,
        HttpRequestException => true, // no status: no answer at all
        SocketException or IOException or TimeoutException => true,
        _ => false,
    };

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
