using Automations.Api.Access;
using Automations.Api.Http;
using Automations.Core.Validation;
using Dapper;
using Npgsql;

namespace Automations.Api.Projects;

/// <summary>
/// The team's projects, for the console's Projects page: there is no project registry, so a project is a name that the
/// team's automations live under or that the team's events carried (Ingestion's ingestion.event_projects view, within
/// the history's retention). Members may read it. Keyset paging by name (`after`), as the list grows with the team.
/// </summary>
public static class ProjectsEndpoints
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 500;

    /// <param name="Automations">The project's own automations (team automations are not counted: they apply by regex).</param>
    /// <param name="LastEventAt">The newest event of the project still in the history; null when none is.</param>
    public sealed record Project(string Name, int Automations, DateTimeOffset? LastEventAt);

    /// <param name="NextAfter">The `after` of the next page; null on the last.</param>
    public sealed record ProjectPage(IReadOnlyList<Project> Projects, string? NextAfter);

    public static RouteGroupBuilder MapProjects(this RouteGroupBuilder entity)
    {
        entity.MapGet("/projects", ListAsync).WithTags("Projects").Produces<ProjectPage>().ProducesValidationProblem()
            .WithSummary("The team's projects: those its automations live under and those its events named, by name.");
        return entity;
    }

    private static async Task<IResult> ListAsync(string entity, int? limit, string? after, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var errors = new Errors();
        var take = limit ?? DefaultLimit;
        if (take is < 1 or > MaxLimit) errors.Add("limit", $"must be between 1 and {MaxLimit}");
        // A cursor is a project name from the previous page: the same rule as any project name, so nothing else reaches the query.
        if (after is not null && NameRules.CheckProject(after) is { } rule) errors.Add("after", rule);
        if (errors.Any) return errors.ToResult();

        var caller = http.Caller();
        await using var c = await db.OpenConnectionAsync(ct);
        var rows = (await c.QueryAsync<Row>(new CommandDefinition(
            """
            with own as (
                select project, count(*)::int as automations from control.automations
                where entity_id = @entityId and project is not null group by project),
            seen as (
                select project, max(last_event_at) as last_event_at from ingestion.event_projects where entity = @entity group by project)
            select coalesce(o.project, s.project) as Name, coalesce(o.automations, 0) as Automations, s.last_event_at as LastEventAt
            from own o full join seen s on s.project = o.project
            where @after::text is null or coalesce(o.project, s.project) > @after
            order by 1
            limit @fetch
            """, new { entityId = caller.EntityId, entity = caller.Entity, after, fetch = take + 1 }, cancellationToken: ct))).AsList();
        var page = rows.Take(take).Select(r => new Project(r.Name, r.Automations,
            r.LastEventAt is { } t ? new DateTimeOffset(DateTime.SpecifyKind(t, DateTimeKind.Utc)) : null)).ToList();
        return Results.Ok(new ProjectPage(page, rows.Count > take ? page[^1].Name : null));
    }

    private sealed record Row(string Name, int Automations, DateTime? LastEventAt);
}
