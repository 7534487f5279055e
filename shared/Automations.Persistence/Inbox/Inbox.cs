using Dapper;
using Npgsql;

namespace Automations.Persistence.Inbox;

/// <summary>
/// Per consumer, per message id: written in the consumer's own transaction, so a failure that rolls back
/// also rolls back the "already handled" mark, and a redelivered message has no second effect.
/// </summary>
public static class Inbox
{
    /// <returns>true when this message is new for this consumer and the caller should handle it.</returns>
    public static async Task<bool> TryBeginAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, string consumer, Guid messageId)
    {
        var inserted = await connection.ExecuteAsync(
            $"insert into {schema}.inbox (consumer, message_id) values (@consumer, @messageId) on conflict do nothing",
            new { consumer, messageId }, transaction);
        return inserted == 1;
    }

    /// <summary>Handled rows are kept a while for deduplication, then swept.</summary>
    public static Task<int> SweepAsync(NpgsqlConnection connection, string schema, TimeSpan keep) =>
        connection.ExecuteAsync($"delete from {schema}.inbox where processed_at < now() - @keep", new { keep });
}
