using System.Text.Json;
using System.Text.Json.Serialization;
using Automations.Api.Access;
using Automations.Api.History;
using Automations.Persistence.Control;
using Dapper;
using Npgsql;

namespace Automations.Api.QueueItems;

/// <summary>
/// GET /v1/entities/{entity}/queues/{queueId}/items?state=&amp;limit= : a queue's Launch items (newest first), read from
/// launch.queue_item_history, the view the LaunchEnqueuer publishes of its items. Members and admins of that entity
/// (<see cref="Access.EntityAccess.AuthorizeAsync"/>); another entity's queue looks like 404.
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

        var items = await connection.QueryAsync<QueueItem>(new CommandDefinition(
            $"""
            {QueueItem.Select}
            where queue_id = @queueId and (@state::text is null or state = @state)
            order by created_at desc, id desc
            limit @limit
            """, new { queueId, state, limit = limit ?? DefaultLimit }, cancellationToken: ct));
        return Results.Ok(new { queue = new { id = queue.Id, name = queue.Name }, items, retention = HistoryReach.Announce(http) });
    }

    private static IResult NotFound(string entity, Guid queueId) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Queue not found", detail: $"No queue {queueId} in entity \"{entity}\" for this key.");

    /// <summary>
    /// A queue item as the Api shows it: a row of launch.queue_item_history, the view the LaunchEnqueuer publishes of its
    /// items (Dapper maps the columns of <see cref="Select"/> to the constructor by position and type).
    /// </summary>
    public sealed record QueueItem(Guid Id, string State, Guid RunId, Guid CommandId, Guid AutomationId, Guid EventId, string Project,
        string? TargetProject, [property: JsonIgnore] Guid JobId, [property: JsonIgnore] string? JobName, [property: JsonIgnore] int JobVersion,
        [property: JsonIgnore] string? RunConfig, int Claims, string? ClaimedBy, DateTime? LeaseExpiresAt, int? ExitCode, string? FailureReason,
        DateTime CreatedAt, DateTime? ClaimedAt, DateTime? StartedAt, DateTime? EndedAt)
    {
        public const string Select =
            """
            select id as Id, state as State, run_id as RunId, command_id as CommandId, automation_id as AutomationId, event_id as EventId,
                   project as Project, target_project as TargetProject, job_id as JobId, job_name as JobName, job_version as JobVersion,
                   run_config::text as RunConfig, claims as Claims, claimed_by as ClaimedBy, lease_expires_at as LeaseExpiresAt,
                   exit_code as ExitCode, failure_reason as FailureReason, created_at as CreatedAt, claimed_at as ClaimedAt,
                   started_at as StartedAt, ended_at as EndedAt
            from launch.queue_item_history
            """;

        public JobRef Job => new(JobId, JobName, JobVersion);
        public JsonElement? Config => RunConfig is null ? null : JsonSerializer.Deserialize<JsonElement>(RunConfig);
    }

    public sealed record JobRef(Guid Id, string? Name, int Version);
}
