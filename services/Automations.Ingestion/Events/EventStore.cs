using Automations.Contracts;
using Automations.Core.Events;
using Automations.Core.Validation;
using Automations.Persistence.Writes;
using Dapper;
using Npgsql;

namespace Automations.Ingestion.Events;

/// <summary>Stores an accepted event and its ArtifactEventReceived outbox row in one statement, committed with whatever else is queued (group commit); (entity, eventId) dedupes.</summary>
public sealed class EventStore(NpgsqlDataSource dataSource, [FromKeyedServices(Extensions.Schema)] Writes writes)
{
    public sealed record StoreResult(Guid Id, bool Duplicate);

    public async Task<StoreResult> StoreAsync(ArtifactEvent e, string source, CancellationToken ct)
    {
        var id = Guid.CreateVersion7();
        var receivedAt = DateTimeOffset.UtcNow;
        var message = new ArtifactEventReceived(id, e.EventId, e.EventType, e.Entity, e.Project, e.Collection, e.VersionId, e.VersionIndex,
            e.Alias, e.Tag, e.Author, e.OccurredAt, e.MetadataJson, receivedAt);
        // One statement: the event and its outbox row commit together (with whatever else the group commit carries),
        // published right after the commit (the relay takes the row only if that fails).
        var w = writes.Begin();
        var ev = w.Execute(
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
            });
        w.Publish(message, when: ev, messageId: id);
        var stored = await w.CommitAsync(ct);
        if (stored.Count(ev) == 1) return new StoreResult(id, false);

        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var existing = await connection.QuerySingleAsync<Guid>(new CommandDefinition(
            "select id from ingestion.events where entity = @Entity and event_id = @EventId", new { e.Entity, e.EventId }, cancellationToken: ct));
        return new StoreResult(existing, true);
    }

    /// <summary>
    /// Keeps a refused message whatever it holds: its body as bytes (NUL and invalid UTF-8 included), and the text
    /// columns scrubbed of what PostgreSQL cannot store (a message id or routing key may carry a NUL).
    /// </summary>
    public async Task RejectAsync(string source, string? routingKey, string? messageId, string reason, ReadOnlyMemory<byte> raw, CancellationToken ct)
    {
        static string? Text(string? s, int max) => s is null ? null : StorableText.Scrub(s.Length > max ? s[..max] : s);
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(
            "insert into ingestion.rejected_events (source, routing_key, message_id, reason, raw_body) values (@source, @routingKey, @messageId, @reason, @raw)",
            new { source, routingKey = Text(routingKey, 1000), messageId = Text(messageId, 1000), reason = Text(reason, 2000), raw = raw.ToArray() });
    }
}
