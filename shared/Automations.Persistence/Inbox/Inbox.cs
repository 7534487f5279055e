using Dapper;
using Npgsql;

namespace Automations.Persistence.Inbox;

/// <summary>
/// Per consumer, per message id (written through the write unit, <see cref="Writes.Writes"/>): written in the consumer's own transaction, so a failure that rolls back
/// also rolls back the "already handled" mark, and a redelivered message has no second effect.
/// </summary>
public static class Inbox
{
    /// <summary>The mark: a row (returning 1) only when this message is new for this consumer.</summary>
    internal static string Insert(string schema, string consumer, string messageId) =>
        $"insert into {schema}.inbox (consumer, message_id) values (@{consumer}, @{messageId}) on conflict do nothing returning 1";

    /// <returns>true when this message is new for this consumer and the caller should handle it.</returns>
    internal static async Task<bool> TryBeginAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, string consumer, Guid messageId,
        CancellationToken ct = default)
    {
        var inserted = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            Insert(schema, "consumer", "messageId"), new { consumer, messageId }, transaction, cancellationToken: ct));
        return inserted == 1;
    }

    /// <summary>Handled rows are kept a while for deduplication, then swept.</summary>
    public static Task<int> SweepAsync(NpgsqlConnection connection, string schema, TimeSpan keep) =>
        connection.ExecuteAsync($"delete from {schema}.inbox where processed_at < now() - @keep", new { keep });
}
