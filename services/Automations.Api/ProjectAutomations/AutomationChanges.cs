using Automations.Contracts;
using Automations.Persistence.Writes;
using Npgsql;

namespace Automations.Api.ProjectAutomations;

public static class AutomationChanges
{
    /// <summary>
    /// Commits the caller's transaction with AutomationsChanged for each of <paramref name="projects"/> (Rules drops its
    /// cache for the project), published through the control schema's write unit. A null project stands for the team
    /// scope (a team automation changed): one AutomationsChanged with Team set, on which Rules drops every project of the
    /// entity.
    /// </summary>
    public static Task CommitAsync(HttpContext http, NpgsqlConnection c, NpgsqlTransaction tx, string entity, IEnumerable<string?> projects, Guid? automationId,
        CancellationToken ct)
    {
        var w = http.RequestServices.GetRequiredKeyedService<Writes>(Extensions.Schema).Enlist(c, tx);
        foreach (var project in projects.Distinct())
            w.Publish(new AutomationsChanged(entity, project ?? "", automationId, DateTimeOffset.UtcNow, Team: project is null));
        return w.CommitAsync(ct);
    }
}
