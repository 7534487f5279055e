using System.Text.Json;
using Automations.Api.Access;
using Automations.Api.AuditTrail;
using Automations.Api.Http;
using Automations.Core.Validation;
using Dapper;
using Npgsql;

namespace Automations.Api.ProjectAutomations;

/// <summary>
/// Project automations, which any member of the entity creates, changes and deletes, and team automations (W&amp;B's
/// team scope: every project of the entity, those created later too, narrowed by event.projectRegex), which only an
/// admin creates, changes, enables, disables and deletes, and every member reads. A project's list also shows the team
/// automations that apply to it (scope "team"), read-only there. Every change writes AutomationsChanged to the control
/// outbox in the same transaction (for a team automation, one that drops every cached project of the entity). Deleting
/// removes the row: Rules stops matching it, while runs already under way carry their rendered command and finish on
/// their own. In the code below a null project means the team scope.
/// </summary>
public static class AutomationsEndpoints
{
    public static RouteGroupBuilder MapAutomations(this RouteGroupBuilder entity)
    {
        var g = entity.MapGroup("/projects/{project}/automations").WithTags("Automations").AddEndpointFilter(CheckProjectAsync);
        g.MapGet("", ListAsync).Produces<AutomationSummary[]>()
            .WithSummary("List the project's automations (name, trigger type, action type, action name, queue, enabled) and the team automations that apply to it (scope team).");
        g.MapPost("", (string project, HttpContext http, NpgsqlDataSource db, CancellationToken ct) => CreateAsync(project, http, db, ct))
            .Accepts<AutomationBody>("application/json").Produces<AutomationView>(StatusCodes.Status201Created)
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Create an automation.");
        g.MapGet("/{id:guid}", (string project, Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct) => GetAsync(project, id, http, db, ct))
            .Produces<AutomationView>().WithSummary("One automation, in full.");
        g.MapPut("/{id:guid}", (string project, Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct) => UpdateAsync(project, id, http, db, ct))
            .Accepts<AutomationBody>("application/json").Produces<AutomationView>()
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Replace an automation.");
        g.MapDelete("/{id:guid}", (string project, Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct) => DeleteAsync(project, id, http, db, ct))
            .WithSummary("Delete an automation (runs in progress finish).");
        g.MapPost("/{id:guid}/enable", (Guid id, string project, HttpContext http, NpgsqlDataSource db, CancellationToken ct) => SetEnabledAsync(id, project, true, http, db, ct))
            .Produces<AutomationView>().WithSummary("Enable an automation.");
        g.MapPost("/{id:guid}/disable", (Guid id, string project, HttpContext http, NpgsqlDataSource db, CancellationToken ct) => SetEnabledAsync(id, project, false, http, db, ct))
            .Produces<AutomationView>().WithSummary("Disable an automation.");
        g.MapAutomationPreview();

        var t = entity.MapGroup("/automations").WithTags("Team automations");
        t.MapGet("", TeamListAsync).Produces<AutomationSummary[]>().WithSummary("List the team automations (every member may read them).");
        t.MapPost("", (HttpContext http, NpgsqlDataSource db, CancellationToken ct) => CreateAsync(null, http, db, ct)).RequireEntityAdmin()
            .Accepts<AutomationBody>("application/json").Produces<AutomationView>(StatusCodes.Status201Created)
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Create a team automation (admins).");
        t.MapGet("/{id:guid}", (Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct) => GetAsync(null, id, http, db, ct))
            .Produces<AutomationView>().WithSummary("One team automation, in full.");
        t.MapPut("/{id:guid}", (Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct) => UpdateAsync(null, id, http, db, ct)).RequireEntityAdmin()
            .Accepts<AutomationBody>("application/json").Produces<AutomationView>()
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status409Conflict).WithSummary("Replace a team automation (admins).");
        t.MapDelete("/{id:guid}", (Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct) => DeleteAsync(null, id, http, db, ct)).RequireEntityAdmin()
            .WithSummary("Delete a team automation (admins; runs in progress finish).");
        t.MapPost("/{id:guid}/enable", (Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct) => SetEnabledAsync(id, null, true, http, db, ct)).RequireEntityAdmin()
            .Produces<AutomationView>().WithSummary("Enable a team automation (admins).");
        t.MapPost("/{id:guid}/disable", (Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct) => SetEnabledAsync(id, null, false, http, db, ct)).RequireEntityAdmin()
            .Produces<AutomationView>().WithSummary("Disable a team automation (admins).");
        t.MapTeamAutomationPreview();
        return entity;
    }

    /// <summary>The rows of one scope: a project's own automations, or (project null) the entity's team automations.</summary>
    private static string InScope(string? project) => project is null ? "a.scope = 'team'" : "a.project = @project";

    /// <summary>An automation lives under a project name an event can carry (the rule Ingestion applies), or nowhere.</summary>
    private static ValueTask<object?> CheckProjectAsync(EndpointFilterInvocationContext ctx, EndpointFilterDelegate next) =>
        NameRules.CheckProject(ctx.HttpContext.GetRouteValue("project") as string) is { } rule
            ? ValueTask.FromResult<object?>(Problems.Invalid("project", rule))
            : next(ctx);

    private const string SummarySelect =
        """
        select a.id as Id, a.scope as Scope, a.project_regex as ProjectRegex, a.name as Name, a.event_type as TriggerType, a.action_type as ActionType,
               coalesce(w.name, j.name, '') as ActionName, coalesce(q.name, '') as Queue, a.enabled as Enabled
        from control.automations a
        left join control.webhooks w on w.id = a.webhook_id
        left join control.launch_jobs j on j.id = a.job_id
        left join control.launch_queues q on q.id = a.queue_id
        """;

    private static async Task<IResult> ListAsync(string project, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        var entityId = http.Caller().EntityId;
        var own = await c.QueryAsync<AutomationSummary>(SummarySelect + " where a.entity_id = @entityId and a.project = @project order by a.name", new { entityId, project });
        var team = await c.QueryAsync<AutomationSummary>(SummarySelect + " where a.entity_id = @entityId and a.scope = 'team' order by a.name", new { entityId });
        return Results.Ok(own.Concat(team.Where(t => AppliesTo(t.ProjectRegex, project))));
    }

    private static async Task<IResult> TeamListAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        return Results.Ok(await c.QueryAsync<AutomationSummary>(SummarySelect + " where a.entity_id = @entityId and a.scope = 'team' order by a.name",
            new { entityId = http.Caller().EntityId }));
    }

    /// <summary>
    /// Whether a team automation with <paramref name="projectRegex"/> watches <paramref name="project"/>: the preview's
    /// decision, which is Rules' (a search; a pattern that does not compile or times out applies nowhere).
    /// </summary>
    private static bool AppliesTo(string? projectRegex, string project) => AutomationPreview.TeamProjectRefusal(projectRegex, project) is null;

    private sealed class Row
    {
        public Guid Id { get; set; }
        public string? Project { get; set; }
        public string Scope { get; set; } = "";
        public string? ProjectRegex { get; set; }
        public string Name { get; set; } = "";
        public string? Description { get; set; }
        public bool Enabled { get; set; }
        public string EventType { get; set; } = "";
        public string? Collection { get; set; }
        public string? AliasRegex { get; set; }
        public string? TagRegex { get; set; }
        public string ActionType { get; set; } = "";
        public string? Webhook { get; set; }
        public string? Payload { get; set; }
        public string? Job { get; set; }
        public int? JobVersion { get; set; }
        public string? Queue { get; set; }
        public string? TargetProject { get; set; }
        public string? Overrides { get; set; }
        public string? RunFilter { get; set; }
        public string? NotificationTitle { get; set; }
        public string? NotificationText { get; set; }
        public string? NotificationSeverity { get; set; }
        public string? CreatedBy { get; set; }
        public DateTimeOffset CreatedAt { get; set; }
        public DateTimeOffset UpdatedAt { get; set; }
    }

    private static async Task<AutomationView?> LoadAsync(NpgsqlConnection c, NpgsqlTransaction? tx, Guid entityId, string entity, string? project, Guid id)
    {
        var r = await c.QuerySingleOrDefaultAsync<Row>(
            $"""
            select a.id as Id, a.project as Project, a.scope as Scope, a.project_regex as ProjectRegex, a.name as Name, a.description as Description, a.enabled as Enabled,
                   a.event_type as EventType, a.collection as Collection, a.alias_regex as AliasRegex, a.tag_regex as TagRegex,
                   a.action_type as ActionType, w.name as Webhook, a.payload as Payload, j.name as Job, a.job_version as JobVersion,
                   q.name as Queue, a.target_project as TargetProject, a.overrides::text as Overrides, a.run_filter::text as RunFilter, u.name as CreatedBy,
                   a.notification_title as NotificationTitle, a.notification_text as NotificationText, a.notification_severity as NotificationSeverity,
                   a.created_at as CreatedAt, a.updated_at as UpdatedAt
            from control.automations a
            left join control.webhooks w on w.id = a.webhook_id
            left join control.launch_jobs j on j.id = a.job_id
            left join control.launch_queues q on q.id = a.queue_id
            left join control.users u on u.id = a.created_by
            where a.entity_id = @entityId and {InScope(project)} and a.id = @id
            """, new { entityId, project, id }, tx);
        if (r is null) return null;
        object action = r.ActionType switch
        {
            "webhook" => new { type = "webhook", webhook = r.Webhook, payload = r.Payload },
            "no_op" => new { type = "no_op" },
            // The payload made of these (NotificationMessage) is not shown: it follows from them and the integration's kind.
            "notification" => new { type = "notification", integration = r.Webhook, title = r.NotificationTitle, text = r.NotificationText, severity = r.NotificationSeverity },
            _ => new
            {
                type = "launch", job = r.Job, jobVersion = r.JobVersion, queue = r.Queue, targetProject = r.TargetProject,
                overrides = r.Overrides is null ? (JsonElement?)null : JsonSerializer.Deserialize<JsonElement>(r.Overrides),
            },
        };
        var run = Automations.Core.Runs.RunFilter.FromJson(r.RunFilter);
        return new AutomationView
        {
            Id = r.Id, Entity = entity, Scope = r.Scope, Project = r.Project, Name = r.Name, Description = r.Description, Enabled = r.Enabled,
            Event = new EventFilter
            {
                Type = r.EventType, Collection = r.Collection, AliasRegex = r.AliasRegex, TagRegex = r.TagRegex, ProjectRegex = r.ProjectRegex,
                State = run?.State, RunNameRegex = run?.RunNameRegex, User = run?.User, Metric = run?.Metric,
            },
            Action = action, CreatedBy = r.CreatedBy, CreatedAt = r.CreatedAt, UpdatedAt = r.UpdatedAt,
        };
    }

    private static async Task<IResult> GetAsync(string? project, Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var caller = http.Caller();
        await using var c = await db.OpenConnectionAsync(ct);
        var view = await LoadAsync(c, null, caller.EntityId, caller.Entity, project, id);
        return view is null ? Problems.NotFound("The automation") : Results.Ok(view);
    }

    // Validation reads outside the transaction; a webhook, job or queue deleted in between shows up as a foreign key violation.
    private static IResult ReferenceGone() =>
        Problems.Conflict("action", "The webhook, integration, job or queue this automation refers to was deleted meanwhile; check it and save again.");

    private static IResult Duplicate(string name, string? project) =>
        Problems.Conflict("name", $"An automation named '{name}' already exists in {(project is null ? "this team's automations" : "this project")}.");

    private static async Task<IResult> CreateAsync(string? project, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<AutomationBody>(http.Request, ct);
        if (body is null) return error!;
        var caller = http.Caller();
        await using var c = await db.OpenConnectionAsync(ct);
        var (a, invalid) = await AutomationValidator.CheckAsync(body, caller.EntityId, c, team: project is null);
        if (a is null) return invalid!;
        var id = Guid.CreateVersion7();
        await using var tx = await c.BeginTransactionAsync(ct);
        int inserted;
        try
        {
            inserted = await InsertRowAsync(c, tx, id, caller.EntityId, project, a, caller.UserId);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            return ReferenceGone();
        }
        if (inserted == 0) return Duplicate(a.Name, project);
        var view = await LoadAsync(c, tx, caller.EntityId, caller.Entity, project, id);
        await RecordAsync(http, tx, AuditActions.Create, project, id, a.Name, null, view);
        await AutomationChanges.CommitAsync(http, c, tx, caller.Entity, [project], id, ct);
        if (view is not null) view.Warnings = a.Warnings;
        return Results.Created($"{http.Request.Path}/{id}", view);
    }

    private static async Task<IResult> UpdateAsync(string? project, Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<AutomationBody>(http.Request, ct);
        if (body is null) return error!;
        var caller = http.Caller();
        await using var c = await db.OpenConnectionAsync(ct);
        var (a, invalid) = await AutomationValidator.CheckAsync(body, caller.EntityId, c, team: project is null);
        if (a is null) return invalid!;
        await using var tx = await c.BeginTransactionAsync(ct);
        var before = await LoadAsync(c, tx, caller.EntityId, caller.Entity, project, id);
        if (before is null) return Problems.NotFound("The automation");
        int updated;
        try
        {
            updated = await UpdateRowAsync(c, tx, id, caller.EntityId, project, a);
        }
        catch (PostgresException ex) when (Names.IsUniqueViolation(ex))
        {
            return Duplicate(a.Name, project);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.ForeignKeyViolation)
        {
            return ReferenceGone();
        }
        if (updated == 0) return Problems.NotFound("The automation");
        var view = await LoadAsync(c, tx, caller.EntityId, caller.Entity, project, id);
        await RecordAsync(http, tx, AuditActions.Update, project, id, a.Name, before, view);
        await AutomationChanges.CommitAsync(http, c, tx, caller.Entity, [project], id, ct);
        if (view is not null) view.Warnings = a.Warnings;
        return Results.Ok(view);
    }

    private static async Task<IResult> SetEnabledAsync(Guid id, string? project, bool enabled, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var caller = http.Caller();
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var before = await LoadAsync(c, tx, caller.EntityId, caller.Entity, project, id);
        if (before is null) return Problems.NotFound("The automation");
        var updated = await c.ExecuteAsync(
            $"update control.automations a set enabled = @enabled, updated_at = now() where id = @id and entity_id = @entityId and {InScope(project)}",
            new { id, enabled, entityId = caller.EntityId, project }, tx);
        if (updated == 0) return Problems.NotFound("The automation");
        var view = await LoadAsync(c, tx, caller.EntityId, caller.Entity, project, id);
        await RecordAsync(http, tx, enabled ? AuditActions.Enable : AuditActions.Disable, project, id, before.Name, before, view);
        await AutomationChanges.CommitAsync(http, c, tx, caller.Entity, [project], id, ct);
        return Results.Ok(view);
    }

    private static async Task<IResult> DeleteAsync(string? project, Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var caller = http.Caller();
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var before = await LoadAsync(c, tx, caller.EntityId, caller.Entity, project, id);
        var deleted = await DeleteRowAsync(c, tx, id, caller.EntityId, project);
        if (deleted == 0 || before is null) return Problems.NotFound("The automation");
        await RecordAsync(http, tx, AuditActions.Delete, project, id, before.Name, before, null);
        await AutomationChanges.CommitAsync(http, c, tx, caller.Entity, [project], id, ct);
        return Results.NoContent();
    }

    /// <summary>The audit entry of a change to a project automation, or (project null) a team automation.</summary>
    private static Task RecordAsync(HttpContext http, NpgsqlTransaction tx, string action, string? project, Guid id, string name, AutomationView? before,
        AutomationView? after) =>
        Audit.Of(http, tx).RecordAsync(project is null ? AuditKinds.TeamAutomation : AuditKinds.Automation, action, id, name, project, before, after);

    /// <summary>
    /// The one insert of an automation (this endpoint and a configuration file's apply), a team automation when
    /// <paramref name="project"/> is null: 0 when the name is taken.
    /// </summary>
    internal static Task<int> InsertRowAsync(NpgsqlConnection c, NpgsqlTransaction tx, Guid id, Guid entityId, string? project, AutomationValidator.Resolved a, Guid? userId) =>
        c.ExecuteAsync(
            $"""
            insert into control.automations (id, entity_id, project, scope, project_regex, name, description, enabled, event_type, collection, alias_regex, tag_regex,
                action_type, webhook_id, payload, job_id, job_version, queue_id, target_project, overrides, run_filter, created_by,
                notification_title, notification_text, notification_severity)
            values (@id, @entityId, @project, @scope, @ProjectRegex, @Name, @Description, @Enabled, @EventType, @Collection, @AliasRegex, @TagRegex,
                @ActionType, @WebhookId, @Payload, @JobId, @JobVersion, @QueueId, @TargetProject, @OverridesJson::jsonb, @RunFilterJson::jsonb, @userId,
                @NotificationTitle, @NotificationText, @NotificationSeverity)
            on conflict {(project is null ? "(entity_id, name) where scope = 'team'" : "(entity_id, project, name)")} do nothing
            """,
            new
            {
                id, entityId, project, scope = project is null ? "team" : "project", a.ProjectRegex, a.Name, a.Description, a.Enabled, a.EventType, a.Collection, a.AliasRegex, a.TagRegex,
                a.ActionType, a.WebhookId, a.Payload, a.JobId, a.JobVersion, a.QueueId, a.TargetProject, a.OverridesJson, a.RunFilterJson, userId,
                a.NotificationTitle, a.NotificationText, a.NotificationSeverity,
            }, tx);

    /// <summary>The one update of an automation: 0 when there is no such automation in the project (the team's, for a null project).</summary>
    internal static Task<int> UpdateRowAsync(NpgsqlConnection c, NpgsqlTransaction tx, Guid id, Guid entityId, string? project, AutomationValidator.Resolved a) =>
        c.ExecuteAsync(
            $"""
            update control.automations a set name = @Name, project_regex = @ProjectRegex, description = @Description, enabled = @Enabled, event_type = @EventType,
                collection = @Collection, alias_regex = @AliasRegex, tag_regex = @TagRegex, action_type = @ActionType,
                webhook_id = @WebhookId, payload = @Payload, job_id = @JobId, job_version = @JobVersion, queue_id = @QueueId,
                target_project = @TargetProject, overrides = @OverridesJson::jsonb, run_filter = @RunFilterJson::jsonb, notification_title = @NotificationTitle,
                notification_text = @NotificationText, notification_severity = @NotificationSeverity, updated_at = now()
            where id = @id and entity_id = @entityId and {InScope(project)}
            """,
            new
            {
                id, entityId, project, a.ProjectRegex, a.Name, a.Description, a.Enabled, a.EventType, a.Collection, a.AliasRegex, a.TagRegex,
                a.ActionType, a.WebhookId, a.Payload, a.JobId, a.JobVersion, a.QueueId, a.TargetProject, a.OverridesJson, a.RunFilterJson,
                a.NotificationTitle, a.NotificationText, a.NotificationSeverity,
            }, tx);

    internal static Task<int> DeleteRowAsync(NpgsqlConnection c, NpgsqlTransaction tx, Guid id, Guid entityId, string? project) =>
        c.ExecuteAsync($"delete from control.automations a where id = @id and entity_id = @entityId and {InScope(project)}", new { id, entityId, project }, tx);
}
