using Automations.Persistence.Retention;
using Dapper;
using Npgsql;

namespace Automations.Persistence.Inbox;

/// <summary>
/// Per consumer, per message id (written through the write unit, <see cref="Writes.Writes"/>): written in the consumer's own transaction, so a failure that rolls back
/// also rolls back the "already handled" mark, and a redelivered message has no second effect.
/// </summary>
/// <remarks>
/// The inbox is partitioned by processed_at and a partition goes once all of it is older than Retention:Inbox
/// (<see cref="Table"/>; _common/0003_partition_inbox.sql). (consumer, message_id) is unique per partition only, so the
/// mark looks for the id in every partition kept before it inserts: a copy arriving while its first mark is kept is a
/// duplicate, one arriving after that partition went is a new message. Two copies in flight at once land in the same
/// partition and serialize on its unique index: the second waits for the first to commit and inserts nothing. The one
/// case this misses: two copies in flight at the same instant whose transactions start on either side of a partition
/// boundary (once per Retention:Interval), each missing the other's uncommitted mark. A mark is kept at least
/// Retention:Inbox and at most that plus one interval.
/// </remarks>
public static class Inbox
{
    /// <summary>The inbox of <paramref name="schema"/>, kept Retention:Inbox, for the owning service's AddRetention.</summary>
    public static PartitionedTable Table(string schema) => new($"{schema}.inbox", "processed_at", o => o.Inbox)
    {
        PartitionDdl = "create unique index on {partition} (consumer, message_id)",
    };

    /// <summary>The mark: a row (returning 1) only when this message is new for this consumer.</summary>
    internal static string Insert(string schema, string consumer, string messageId) =>
        $"""
        insert into {schema}.inbox (consumer, message_id)
        select @{consumer}, @{messageId}
        where not exists (select from {schema}.inbox where consumer = @{consumer} and message_id = @{messageId})
        on conflict do nothing returning 1
        """;

    /// <returns>true when this message is new for this consumer and the caller should handle it.</returns>
    internal static async Task<bool> TryBeginAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, string consumer, Guid messageId,
        CancellationToken ct = default)
    {
        var inserted = await connection.ExecuteScalarAsync<int?>(new CommandDefinition(
            Insert(schema, "consumer", "messageId"), new { consumer, messageId }, transaction, cancellationToken: ct));
        return inserted == 1;
    }
}
