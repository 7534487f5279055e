using System.Text.Json;
using Automations.Api.Access;
using Automations.Persistence.Control;
using Dapper;
using Npgsql;

namespace Automations.Api.QueueItems;

/// <summary>
/// GET /v1/entities/{entity}/queues/{queueId}/items?state=&amp;limit= : a queue's Launch items (newest first), read from the
/// launch schema. Members and admins of that entity (<see cref="Access.EntityAccess.AuthorizeAsync"/>); another entity's queue looks like 404.
/// </summary>
public static class QueueItemsEndpoints
{
    public static readonly string[] States = ["queued", "claimed", "running", "finished", "failed"];
    private const int DefaultLimit = 100;
    private const int MaxLimit = 500;

    public static void MapQueueItems(this WebApplication app) =>
        app.MapGet("/v1/entities/{entity}/queues/{queueId:guid}/items", ListAsync)
            .WithName("ListQueueItems")
            .WithTags("Launch")
            .WithSummary("A queue's items, newest first, optionally of one state (queued, claimed, running, finished, failed).")
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);

    private static async Task<IResult> ListAsync(string entity, Guid queueId, string? state, int? limit, HttpContext http, NpgsqlDataSource dataSource, CancellationToken ct)
    {
        var (principal, error) = await EntityAccess.AuthorizeAsync(http, admin: false);
        if (principal is null) return error!;

        var errors = new Dictionary<string, string[]>();
        if (state is not null && !States.Contains(state, StringComparer.Ordinal))
            errors["state"] = [$"state is one of {string.Join(", ", States)}."];
        if (limit is < 1 or > MaxLimit)
            errors["limit"] = [$"limit is between 1 and {MaxLimit}."];
        if (errors.Count > 0) return Results.ValidationProblem(errors);

        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var queue = await LaunchQueries.FindQueueAsync(connection, queueId, ct: ct);
        if (queue is null || queue.EntityId != principal.EntityId)
            return NotFound(entity, queueId);

        var rows = await connection.QueryAsync<Row>(new CommandDefinition(
            """
            select id as Id, state as State, run_id as RunId, command_id as CommandId, automation_id as AutomationId, event_id as EventId,
                   project as Project, target_project as TargetProject, job_id as JobId, job_name as JobName, job_version as JobVersion,
                   run_config::text as RunConfig, claims as Claims, claimed_by as ClaimedBy, lease_expires_at as LeaseExpiresAt,
                   exit_code as ExitCode, failure_reason as FailureReason, created_at as CreatedAt, claimed_at as ClaimedAt,
                   started_at as StartedAt, ended_at as EndedAt
            from launch.queue_items
            where queue_id = @queueId and (@state::text is null or state = @state)
            order by created_at desc, id desc
            limit @limit
            """, new { queueId, state, limit = limit ?? DefaultLimit }, cancellationToken: ct));
        return Results.Ok(new
        {
            queue = new { id = queue.Id, name = queue.Name },
            items = rows.Select(r => new
            {
                id = r.Id,
                state = r.State,
                runId = r.RunId,
                commandId = r.CommandId,
                automationId = r.AutomationId,
                eventId = r.EventId,
                project = r.Project,
                targetProject = r.TargetProject,
                job = new { id = r.JobId, name = r.JobName, version = r.JobVersion },
                config = r.RunConfig is null ? (JsonElement?)null : JsonSerializer.Deserialize<JsonElement>(r.RunConfig),
                claims = r.Claims,
                claimedBy = r.ClaimedBy,
                leaseExpiresAt = Utc(r.LeaseExpiresAt),
                exitCode = r.ExitCode,
                failureReason = r.FailureReason,
                createdAt = Utc(r.CreatedAt),
                claimedAt = Utc(r.ClaimedAt),
                startedAt = Utc(r.StartedAt),
                endedAt = Utc(r.EndedAt),
            }),
        });
    }

    private static DateTime? Utc(DateTime? t) => t is { } v ? DateTime.SpecifyKind(v, DateTimeKind.Utc) : null;

    private static IResult NotFound(string entity, Guid queueId) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Queue not found", detail: $"No queue {queueId} in entity \"{entity}\" for this key.");

    private sealed class Row
    {
        public Guid Id { get; set; }
        public string State { get; set; } = "";
        public Guid RunId { get; set; }
        public Guid CommandId { get; set; }
        public Guid AutomationId { get; set; }
        public Guid EventId { get; set; }
        public string Project { get; set; } = "";
        public string? TargetProject { get; set; }
        public Guid JobId { get; set; }
        public string? JobName { get; set; }
        public int JobVersion { get; set; }
        public string? RunConfig { get; set; }
        public int Claims { get; set; }
        public string? ClaimedBy { get; set; }
        public DateTime? LeaseExpiresAt { get; set; }
        public int? ExitCode { get; set; }
        public string? FailureReason { get; set; }
        public DateTime CreatedAt { get; set; }
        public DateTime? ClaimedAt { get; set; }
        public DateTime? StartedAt { get; set; }
        public DateTime? EndedAt { get; set; }
    }
}
