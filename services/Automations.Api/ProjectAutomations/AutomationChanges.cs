using Automations.Contracts;
using Automations.Persistence.Writes;
using Npgsql;

namespace Automations.Api.ProjectAutomations;

public static class AutomationChanges
{
    /// <summary>
    /// Commits the caller's transaction with AutomationsChanged for each of <paramref name="projects"/> (Rules drops its
    /// cache for the project), published through the control schema's write unit.
    /// </summary>
    public static Task CommitAsync(HttpContext http, NpgsqlConnection c, NpgsqlTransaction tx, string entity, IEnumerable<string> projects, Guid? automationId,
        CancellationToken ct)
    {
        var w = http.RequestServices.GetRequiredKeyedService<Writes>(Extensions.Schema).Enlist(c, tx);
        foreach (var project in projects) w.Publish(new AutomationsChanged(entity, project, automationId, DateTimeOffset.UtcNow));
        return w.CommitAsync(ct);
    }
}
