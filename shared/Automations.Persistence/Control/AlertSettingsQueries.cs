using Dapper;
using Npgsql;

namespace Automations.Persistence.Control;

/// <summary>A team's alert thresholds and channel as stored (control.alert_settings, owned by the Api).</summary>
public sealed record AlertSettingsRow(int ConsecutiveFailures, TimeSpan FailingFor, TimeSpan DisableAfter, Guid? ChannelWebhookId);

/// <summary>Read query over control.alert_settings for the WebhookSender (which never writes control).</summary>
public static class AlertSettingsQueries
{
    /// <summary>The team's settings; null when it has none (the sender's defaults apply).</summary>
    public static async Task<AlertSettingsRow?> FindAsync(NpgsqlConnection connection, string entity, CancellationToken ct = default) =>
        await connection.QuerySingleOrDefaultAsync<AlertSettingsRow>(new CommandDefinition(
            """
            select a.consecutive_failures as ConsecutiveFailures, a.failing_for as FailingFor, a.disable_after as DisableAfter,
                   a.channel_webhook_id as ChannelWebhookId
            from control.alert_settings a join control.entities e on e.id = a.entity_id
            where e.name = @entity
            """, new { entity }, cancellationToken: ct));
}
