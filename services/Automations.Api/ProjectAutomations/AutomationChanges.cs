using Automations.Contracts;
using Automations.Persistence.Outbox;
using Npgsql;

namespace Automations.Api.ProjectAutomations;

public static class AutomationChanges
{
    /// <summary>AutomationsChanged through the control outbox, in the caller's transaction (Rules drops its cache for the project).</summary>
    public static Task PublishAsync(NpgsqlConnection c, NpgsqlTransaction tx, string entity, string project, Guid? automationId) =>
        OutboxWriter.AddAsync(c, tx, Extensions.Schema, new AutomationsChanged(entity, project, automationId, DateTimeOffset.UtcNow));
}
