using System.Text.Json;
using Automations.Api.Access;
using Automations.Api.History;
using Automations.Core.Validation;
using Dapper;
using Npgsql;

namespace Automations.Api.Runs;

/// <summary>
/// Run history of one automation, newest first, paged with `before` (the last run id of the previous page): read from
/// rules.run_history, the view Rules publishes of its runs, and the control read model for names. A team automation's
/// runs are read through the team route (every project it fired for) and through a project's route (that project's).
/// </summary>
public static class RunsEndpoints
{
    public const int DefaultLimit = 20;
    public const int MaxLimit = 100;

    public static IEndpointRouteBuilder MapRuns(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/entities/{entity}/projects/{project}/automations/{id}/runs", ListAsync)
            .WithName("ListAutomationRuns")
            .WithTags("Runs");
        app.MapGet("/v1/entities/{entity}/automations/{id}/runs",
                (string entity, string id, int? limit, string? before, string? status, string? since, string? until, HttpContext http,
                        NpgsqlDataSource dataSource, CancellationToken ct) =>
                    ListAsync(entity, null, id, limit, before, status, since, until, http, dataSource, ct))
            .WithName("ListTeamAutomationRuns")
            .WithTags("Runs");
        return app;
    }

    public sealed record RunAction(string Type, Guid? WebhookId, string? WebhookName, Guid? JobId, string? JobName, int? JobVersion, Guid? QueueId,
        string? QueueName, string? TargetProject);

    /// <param name="Project">The project of the event that fired the run (for a team automation, one of many).</param>
    public sealed record RunView(Guid Id, string Status, string? Reason, JsonElement Event, RunAction Action, Guid CommandId, JsonElement? Payload,
        DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? FinishedAt, string Project);

    /// <param name="Retention">How far back the runs reach (<see cref="HistoryReach"/>).</param>
    public sealed record RunPage(IReadOnlyList<RunView> Runs, Guid? NextBefore, HistoryReach Retention);

    /// <param name="project">Null: the team route (a team automation's runs in every project).</param>
    /// <param name="status">Only runs in this state (<see cref="Statuses"/>).</param>
    /// <param name="since">Only runs created at or after this time (ISO 8601).</param>
    /// <param name="until">Only runs created before this time (ISO 8601).</param>
    private static async Task<IResult> ListAsync(string entity, string? project, string id, int? limit, string? before,
        string? status, string? since, string? until, HttpContext http, NpgsqlDataSource dataSource, CancellationToken ct)
    {
        var (principal, error) = await EntityAccess.AuthorizeAsync(http, admin: false);
        if (principal is null) return error!;
        if (!Guid.TryParse(id, out var automationId)) return NotFound();

        var take = limit ?? DefaultLimit;
        var errors = new Dictionary<string, string[]>();
        if (project is not null && NameRules.CheckProject(project) is { } projectRule) errors["project"] = [projectRule];
        if (take is < 1 or > MaxLimit) errors["limit"] = [$"must be between 1 and {MaxLimit}"];
        Guid? beforeId = null;
        if (before is not null)
        {
            if (Guid.TryParse(before, out var b)) beforeId = b;
            else errors["before"] = ["must be a run id (the nextBefore of the previous page)"];
        }
        if (status is not null && !Statuses.Contains(status, StringComparer.Ordinal))
            errors["status"] = [$"must be one of {string.Join(", ", Statuses)}"];
        var from = Time(since, "since", errors);
        var to = Time(until, "until", errors);
        if (from is not null && to is not null && from >= to) errors["until"] = ["must be after since"];
        if (errors.Count > 0) return Results.ValidationProblem(errors);

        await using var connection = await dataSource.OpenConnectionAsync(ct);
        // The automation may have been deleted since: its runs stay readable. A team automation is known in every project.
        var known = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
            """
            select (exists (select 1 from control.automations a join control.entities e on e.id = a.entity_id
                            where a.id = @automationId and e.name = @entity and (a.project = @project or a.scope = 'team'))
                    or exists (select 1 from rules.run_history where automation_id = @automationId and entity = @entity and (@project::text is null or project = @project)))
               -- The team route is for team automations (and deleted ones): a project automation is read under its project.
               and not (@project::text is null and exists (select 1 from control.automations where id = @automationId and scope = 'project'))
            """, new { automationId, entity, project }, cancellationToken: ct));
        if (!known) return NotFound();

        if (beforeId is { } cursor && !await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                "select exists (select 1 from rules.run_history where id = @cursor and automation_id = @automationId)", new { cursor, automationId }, cancellationToken: ct)))
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["before"] = ["is not a run of this automation"] });

        var rows = (await connection.QueryAsync<Row>(new CommandDefinition(
            """
            select r.id as Id, r.status as Status, r.reason as Reason, r.event::text as Event, r.action_type as ActionType,
                   r.webhook_id as WebhookId, w.name as WebhookName, r.job_id as JobId, j.name as JobName, r.job_version as JobVersion,
                   r.queue_id as QueueId, q.name as QueueName, r.target_project as TargetProject, r.command_id as CommandId,
                   r.payload as Payload, r.created_at as CreatedAt, r.updated_at as UpdatedAt, r.finished_at as FinishedAt, r.project as Project
            from rules.run_history r
            left join control.webhooks w on w.id = r.webhook_id
            left join control.launch_jobs j on j.id = r.job_id
            left join control.launch_queues q on q.id = r.queue_id
            where r.automation_id = @automationId and r.entity = @entity and (@project::text is null or r.project = @project)
              and (@cursor::uuid is null or (r.created_at, r.id) < (select created_at, id from rules.run_history where id = @cursor))
              and (@status::text is null or r.status = @status)
              and (@from::timestamptz is null or r.created_at >= @from) and (@to::timestamptz is null or r.created_at < @to)
            order by r.created_at desc, r.id desc
            limit @fetch
            """, new { automationId, entity, project, cursor = beforeId, status, from, to, fetch = take + 1 }, cancellationToken: ct))).AsList();

        var page = rows.Take(take).Select(ToView).ToList();
        return Results.Ok(new RunPage(page, rows.Count > take ? page[^1].Id : null, HistoryReach.Announce(http)));
    }

    /// <summary>A run's states (Rules' rules.runs): Pending until matched, Enqueued once its command is sent, then Finished or Failed.</summary>
    public static readonly string[] Statuses = ["Pending", "Enqueued", "Finished", "Failed"];

    private static DateTimeOffset? Time(string? text, string field, Dictionary<string, string[]> errors)
    {
        if (text is null) return null;
        if (DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t))
            return t.ToUniversalTime();
        errors[field] = ["must be an ISO 8601 time, such as 2026-11-27T09:00:00Z"];
        return null;
    }

    private static IResult NotFound() =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: "No such automation in this entity (and project).");

    private static RunView ToView(Row r) => new(
        r.Id, r.Status, r.Reason, Parse(r.Event)!.Value,
        new RunAction(r.ActionType, r.WebhookId, r.WebhookName, r.JobId, r.JobName, r.JobVersion, r.QueueId, r.QueueName, r.TargetProject),
        r.CommandId, Parse(r.Payload), Utc(r.CreatedAt), Utc(r.UpdatedAt), r.FinishedAt is { } f ? Utc(f) : null, r.Project);

    private static DateTimeOffset Utc(DateTime t) => new(DateTime.SpecifyKind(t, DateTimeKind.Utc));

    private static JsonElement? Parse(string? json)
    {
        if (json is null) return null;
        using var doc = JsonDocument.Parse(json);
        return doc.RootElement.Clone();
    }

    /// <summary>A row of the history query, mapped by Dapper to the constructor by position and type.</summary>
    private sealed record Row(Guid Id, string Status, string? Reason, string Event, string ActionType, Guid? WebhookId, string? WebhookName,
        Guid? JobId, string? JobName, int? JobVersion, Guid? QueueId, string? QueueName, string? TargetProject, Guid CommandId, string? Payload,
        DateTime CreatedAt, DateTime UpdatedAt, DateTime? FinishedAt, string Project);
}
