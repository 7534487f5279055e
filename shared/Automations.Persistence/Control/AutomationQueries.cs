using Dapper;
using Npgsql;

namespace Automations.Persistence.Control;

/// <summary>An automation as the Rules service needs it to match an event and issue its command.</summary>
public sealed class AutomationRow
{
    public Guid Id { get; set; }
    public Guid EntityId { get; set; }
    public string Entity { get; set; } = "";
    public string Project { get; set; } = "";
    public string Name { get; set; } = "";
    public string EventType { get; set; } = "";
    public string? Collection { get; set; }
    public string? AliasRegex { get; set; }
    public string? TagRegex { get; set; }
    public string ActionType { get; set; } = "";
    public Guid? WebhookId { get; set; }
    public string? Payload { get; set; }
    public Guid? JobId { get; set; }
    public int? JobVersion { get; set; }
    public Guid? QueueId { get; set; }
    public string? TargetProject { get; set; }
    public string? OverridesJson { get; set; }
    /// <summary>Run automations: their run filter (Automations.Core.Runs.RunFilter as JSON); null for artifact automations.</summary>
    public string? RunFilterJson { get; set; }
    /// <summary>"project", or "team" for a team automation (Project is then empty: it watches the entity's projects).</summary>
    public string Scope { get; set; } = "project";
    /// <summary>A team automation's project regex (a search, as the alias and tag regexes); null: every project.</summary>
    public string? ProjectRegex { get; set; }

    public bool IsTeam => Scope == "team";

    /// <summary>Rules reads enabled automations only; a preview reads any.</summary>
    public bool Enabled { get; set; }

    /// <summary>Its trigger, compiled: how Rules matches it and the Api's preview explains it.</summary>
    public Core.Matching.AutomationTrigger Trigger(TimeSpan regexTimeout) =>
        new(EventType, Collection, AliasRegex, TagRegex, RunFilterJson, regexTimeout);
}

/// <summary>Read queries over control.automations and the launch tables, for workers (they never write control).</summary>
public static class AutomationQueries
{
    private const string Columns =
        """
        a.id as Id, a.entity_id as EntityId, e.name as Entity, coalesce(a.project, '') as Project, a.scope as Scope, a.project_regex as ProjectRegex, a.name as Name, a.event_type as EventType,
        a.collection as Collection, a.alias_regex as AliasRegex, a.tag_regex as TagRegex, a.action_type as ActionType,
        a.webhook_id as WebhookId, a.payload as Payload, a.job_id as JobId, a.job_version as JobVersion, a.queue_id as QueueId,
        a.target_project as TargetProject, a.overrides::text as OverridesJson, a.run_filter::text as RunFilterJson, a.enabled as Enabled
        """;

    /// <summary>
    /// The enabled automations of one entity/project (every event type and collection). Served by the partial index
    /// automations_match (entity_id, project, ...) where enabled, so the cost does not depend on other projects.
    /// </summary>
    public static async Task<IReadOnlyList<AutomationRow>> EnabledForProjectAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string entity, string project, CancellationToken ct = default)
    {
        var rows = await connection.QueryAsync<AutomationRow>(new CommandDefinition(
            $"""
            select {Columns}
            from control.automations a join control.entities e on e.id = a.entity_id
            where e.name = @entity and a.project = @project and a.enabled
            """, new { entity, project }, transaction, cancellationToken: ct));
        return rows.AsList();
    }

    /// <summary>
    /// The enabled team automations of one entity, loaded once for all its projects (Rules keeps them per entity and
    /// picks, for each project, those whose project regex finds it). Served by the partial index automations_team_match.
    /// </summary>
    public static async Task<IReadOnlyList<AutomationRow>> EnabledForTeamAsync(
        NpgsqlConnection connection, NpgsqlTransaction? transaction, string entity, CancellationToken ct = default)
    {
        var rows = await connection.QueryAsync<AutomationRow>(new CommandDefinition(
            $"""
            select {Columns}
            from control.automations a join control.entities e on e.id = a.entity_id
            where e.name = @entity and a.scope = 'team' and a.enabled
            """, new { entity }, transaction, cancellationToken: ct));
        return rows.AsList();
    }

    /// <summary>
    /// One automation of an entity's project (a team automation of the entity when <paramref name="project"/> is null),
    /// enabled or not, read as Rules reads it (the same columns); null when there is none. For the Api's preview.
    /// </summary>
    public static Task<AutomationRow?> FindAsync(NpgsqlConnection connection, Guid entityId, string? project, Guid id, CancellationToken ct = default) =>
        connection.QuerySingleOrDefaultAsync<AutomationRow?>(new CommandDefinition(
            $"""
            select {Columns}
            from control.automations a join control.entities e on e.id = a.entity_id
            where a.entity_id = @entityId and {(project is null ? "a.scope = 'team'" : "a.project = @project")} and a.id = @id
            """, new { entityId, project, id }, cancellationToken: ct));

    /// <summary>The newest version of a Launch job, for automations that name no version.</summary>
    public static Task<int?> LatestJobVersionAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid jobId, CancellationToken ct = default) =>
        connection.QuerySingleOrDefaultAsync<int?>(new CommandDefinition(
            "select max(version) from control.launch_job_versions where job_id = @jobId", new { jobId }, transaction, cancellationToken: ct));
}
