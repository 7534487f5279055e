using Automations.Contracts;
using Automations.Core.Events;
using Automations.Persistence.Outbox;
using Dapper;
using Npgsql;

namespace Automations.Ingestion.Events;

/// <summary>Stores an accepted event and its ArtifactEventReceived outbox row in one transaction; (entity, eventId) dedupes.</summary>
public sealed class EventStore(NpgsqlDataSource dataSource)
{
    public sealed record StoreResult(Guid Id, bool Duplicate);

    public async Task<StoreResult> StoreAsync(ArtifactEvent e, string source, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var id = Guid.CreateVersion7();
        var receivedAt = DateTimeOffset.UtcNow;
        var inserted = await connection.QuerySingleOrDefaultAsync<Guid?>(
            """
            insert into ingestion.events (id, entity, event_id, event_type, project, collection, version_id, version_index, alias, tag, author, occurred_at, received_at, source, metadata)
            values (@id, @Entity, @EventId, @EventType, @Project, @Collection, @VersionId, @VersionIndex, @Alias, @Tag, @Author, @OccurredAt, @receivedAt, @source, @metadata::jsonb)
            on conflict (entity, event_id) do nothing
            returning id
            """,
            new
            {
                id, e.Entity, e.EventId, e.EventType, e.Project, e.Collection, e.VersionId, e.VersionIndex, e.Alias, e.Tag, e.Author,
                e.OccurredAt, receivedAt, source, metadata = e.MetadataJson,
            }, tx);
        if (inserted is null)
        {
            var existing = await connection.QuerySingleAsync<Guid>(
                "select id from ingestion.events where entity = @Entity and event_id = @EventId", new { e.Entity, e.EventId }, tx);
            await tx.CommitAsync(ct);
            return new StoreResult(existing, true);
        }

        var message = new ArtifactEventReceived(id, e.EventId, e.EventType, e.Entity, e.Project, e.Collection, e.VersionId, e.VersionIndex,
            e.Alias, e.Tag, e.Author, e.OccurredAt, e.MetadataJson, receivedAt);
        await OutboxWriter.AddAsync(connection, tx, Extensions.Schema, message, messageId: id);
        await tx.CommitAsync(ct);
        return new StoreResult(id, false);
    }

    public async Task RejectAsync(string source, string? routingKey, string? messageId, string reason, ReadOnlyMemory<byte> raw, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(
            "insert into ingestion.rejected_events (source, routing_key, message_id, reason, raw_body) values (@source, @routingKey, @messageId, @reason, @raw)",
            new { source, routingKey, messageId, reason = reason.Length > 2000 ? reason[..2000] : reason, raw = raw.ToArray() });
    }
}
