using System.Diagnostics;
using Automations.Core.Security;
using Automations.Persistence;
using Automations.Persistence.Control;
using Automations.ServiceDefaults.Http;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.LaunchEnqueuer.Agent;

public sealed record LeaseRequest(Guid? LeaseId);
public sealed record FinishedRequest(Guid? LeaseId, int? ExitCode);
public sealed record FailedRequest(Guid? LeaseId, string? Reason);

/// <summary>
/// The agent HTTP API: claim with a lease (long-poll), heartbeat, running, finished, failed, release. Only keys with
/// the queues:agent scope, and only for queues and items of the key's own entity (others look like 404).
/// </summary>
public static class AgentEndpoints
{
    private static readonly TimeSpan QueueCacheTtl = TimeSpan.FromSeconds(5);
    public const int MaxReasonLength = 2000;
    /// <summary>An agent's report is a lease id, an exit code and a reason of at most 2,000 characters.</summary>
    private const int MaxBodyBytes = 64 * 1024;

    public static void MapAgentApi(this WebApplication app)
    {
        var agent = app.MapGroup("/v1/agent").WithTags("Agent");
        agent.MapPost("/queues/{queueId:guid}/claim", ClaimAsync)
            .WithSummary("Claim the next item of a queue (long-poll with ?wait=seconds). 200 with the item and its lease, 204 when none.")
            // A long-poll waits, holding little: counted against Http:MaxConcurrentRequests, idle agents would starve the rest.
            .DisableRateLimiting();
        agent.MapPost("/items/{id:guid}/heartbeat", (Guid id, HttpContext http, QueueItemStore store, CancellationToken ct) =>
            HeartbeatAsync(id, http, store, running: false, ct)).WithSummary("Extend the lease.");
        agent.MapPost("/items/{id:guid}/running", (Guid id, HttpContext http, QueueItemStore store, CancellationToken ct) =>
            HeartbeatAsync(id, http, store, running: true, ct)).WithSummary("The process started (also extends the lease).");
        agent.MapPost("/items/{id:guid}/finished", FinishedAsync).WithSummary("The process exited: 0 finishes the run, any other code fails it.");
        agent.MapPost("/items/{id:guid}/failed", FailedAsync).WithSummary("The item could not be run (reason).");
        agent.MapPost("/items/{id:guid}/release", ReleaseAsync).WithSummary("Hand the item back to its queue.");
    }

    private static async Task<IResult> ClaimAsync(Guid queueId, int? wait, string? agent, HttpContext http, QueueItemStore store, QueueSignals signals,
        NpgsqlDataSource dataSource, IMemoryCache cache, IOptionsMonitor<LaunchOptions> options, LaunchMetrics metrics, IHostApplicationLifetime lifetime,
        CancellationToken ct)
    {
        var (principal, error) = await AuthenticateAsync(http, ct);
        if (principal is null) return error!;
        if (wait is < 0)
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["wait"] = ["wait is a number of seconds, 0 or more."] });
        if (agent is { Length: > 200 })
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["agent"] = ["agent is at most 200 characters."] });
        var queue = await cache.GetOrCreateAsync("queue:" + queueId, async e =>
        {
            e.AbsoluteExpirationRelativeToNow = QueueCacheTtl;
            await using var connection = await dataSource.OpenConnectionAsync(ct);
            return await LaunchQueries.FindQueueAsync(connection, queueId, ct: ct);
        });
        if (queue is null || queue.EntityId != principal.EntityId)
            return Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Queue not found", detail: $"No queue {queueId} in this key's entity.");
        Activity.Current?.SetTag("automations.queue_id", queueId);

        var o = options.CurrentValue;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(Math.Min(wait ?? 0, o.MaxWaitSeconds));
        var poll = TimeSpan.FromMilliseconds(o.PollIntervalMilliseconds);
        while (true)
        {
            var signal = signals.Next(queueId);
            var item = await store.ClaimAsync(queueId, agent ?? principal.KeyId.ToString(), ct);
            if (item is not null)
            {
                Activity.Current?.SetTag("automations.queue_item_id", item.Id);
                metrics.Count("claimed");
                // The claim joins the trace of the event that queued the item (linked to the agent's own request span);
                // its id goes back to the agent, which hands it to the process as TRACEPARENT.
                ActivityContext.TryParse(item.Traceparent, null, out var origin);
                using var claim = Automations.ServiceDefaults.Telemetry.Source.StartActivity("launch item claim", ActivityKind.Internal, origin,
                    links: Activity.Current is { } request ? [new ActivityLink(request.Context)] : null);
                claim?.SetTag("automations.entity", item.Entity);
                claim?.SetTag("automations.project", item.Project);
                claim?.SetTag("automations.queue_id", queueId);
                claim?.SetTag("automations.queue_item_id", item.Id);
                claim?.SetTag("automations.run_id", item.RunId);
                claim?.SetTag("launch.claims", item.Claims);
                return Results.Ok(claim is null ? item : item with { Traceparent = claim.Id });
            }
            var left = deadline - DateTime.UtcNow;
            // A replica shutting down answers its waiting claims at once rather than holding its shutdown for the long-poll.
            if (left <= TimeSpan.Zero || lifetime.ApplicationStopping.IsCancellationRequested) return Results.NoContent();
            await signals.WaitAsync(queueId, signal, left < poll ? left : poll, lifetime.ApplicationStopping, ct);
        }
    }

    private static async Task<IResult> HeartbeatAsync(Guid id, HttpContext http, QueueItemStore store, bool running, CancellationToken ct)
    {
        var (principal, error) = await AuthenticateAsync(http, ct);
        if (principal is null) return error!;
        var (body, invalid) = await JsonBody.ReadAsync<LeaseRequest>(http.Request, Json.Options, ct, MaxBodyBytes);
        if (body is null) return invalid!;
        if (body.LeaseId is not { } leaseId) return LeaseIdRequired();
        var (outcome, expires) = await store.HeartbeatAsync(principal.EntityId, id, leaseId, running, ct);
        return outcome == LeaseOutcome.Ok ? Results.Ok(new { id, leaseId, leaseExpiresAt = expires }) : Refused(outcome, id);
    }

    private static async Task<IResult> FinishedAsync(Guid id, HttpContext http, QueueItemStore store, CancellationToken ct)
    {
        var (principal, error) = await AuthenticateAsync(http, ct);
        if (principal is null) return error!;
        var (body, invalid) = await JsonBody.ReadAsync<FinishedRequest>(http.Request, Json.Options, ct, MaxBodyBytes);
        if (body is null) return invalid!;
        if (body.LeaseId is not { } leaseId) return LeaseIdRequired();
        if (body.ExitCode is not { } exitCode)
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["exitCode"] = ["exitCode is required (0 means success)."] });
        var (outcome, state) = await store.FinishAsync(principal.EntityId, id, leaseId, exitCode, ct);
        return outcome is LeaseOutcome.Ok or LeaseOutcome.AlreadyEnded ? Results.Ok(new { id, state }) : Refused(outcome, id);
    }

    private static async Task<IResult> FailedAsync(Guid id, HttpContext http, QueueItemStore store, CancellationToken ct)
    {
        var (principal, error) = await AuthenticateAsync(http, ct);
        if (principal is null) return error!;
        var (body, invalid) = await JsonBody.ReadAsync<FailedRequest>(http.Request, Json.Options, ct, MaxBodyBytes);
        if (body is null) return invalid!;
        if (body.LeaseId is not { } leaseId) return LeaseIdRequired();
        if (string.IsNullOrWhiteSpace(body.Reason))
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["reason"] = ["reason is required."] });
        var reason = body.Reason.Length > MaxReasonLength ? body.Reason[..MaxReasonLength] : body.Reason;
        var (outcome, state) = await store.FailAsync(principal.EntityId, id, leaseId, reason, ct);
        return outcome is LeaseOutcome.Ok or LeaseOutcome.AlreadyEnded ? Results.Ok(new { id, state }) : Refused(outcome, id);
    }

    private static async Task<IResult> ReleaseAsync(Guid id, HttpContext http, QueueItemStore store, CancellationToken ct)
    {
        var (principal, error) = await AuthenticateAsync(http, ct);
        if (principal is null) return error!;
        var (body, invalid) = await JsonBody.ReadAsync<LeaseRequest>(http.Request, Json.Options, ct, MaxBodyBytes);
        if (body is null) return invalid!;
        if (body.LeaseId is not { } leaseId) return LeaseIdRequired();
        var outcome = await store.ReleaseAsync(principal.EntityId, id, leaseId, ct);
        return outcome == LeaseOutcome.Ok ? Results.Ok(new { id, state = "queued" }) : Refused(outcome, id);
    }

    private static IResult LeaseIdRequired() =>
        Results.ValidationProblem(new Dictionary<string, string[]> { ["leaseId"] = ["leaseId (from the claim response) is required."] });

    private static IResult Refused(LeaseOutcome outcome, Guid id) => outcome switch
    {
        LeaseOutcome.NotFound => Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Item not found", detail: $"No queue item {id} in this key's entity."),
        _ => Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Lease lost",
            detail: "This lease no longer holds the item: it expired and the item went back to the queue, was handed back, or has ended. Stop working on it."),
    };

    private static async Task<(ApiKeyPrincipal?, IResult?)> AuthenticateAsync(HttpContext http, CancellationToken ct)
    {
        var key = ApiKeyQueries.FromAuthorizationHeader(http.Request.Headers.Authorization);
        if (key is null)
            return (null, Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Missing API key", detail: "Send `Authorization: Bearer <key>` with a key that has the queues:agent scope."));
        var principal = await http.RequestServices.GetRequiredService<ApiKeyCache>().AuthenticateAsync(key, ct);
        if (principal is null)
            return (null, Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Invalid API key", detail: "The key is unknown or revoked."));
        if (!principal.HasScope(ApiKeys.Scopes.QueuesAgent))
            return (null, Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Missing scope", detail: "This key lacks the queues:agent scope."));
        return (principal, null);
    }
}
