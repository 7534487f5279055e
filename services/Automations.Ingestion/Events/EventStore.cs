using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Events;
using Automations.Core.Validation;
using Automations.Persistence.Retention;
using Automations.Persistence.Writes;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.Ingestion.Events;

/// <summary>
/// Stores an accepted event and its ArtifactEventReceived outbox row in one statement, committed with whatever else is
/// queued (group commit); (entity, eventId) dedupes for Retention:DedupeWindow.
/// </summary>
/// <remarks>
/// Events are partitioned by received_at, and the dedupe key is unique per partition (0002_partition_events.sql). The
/// insert looks for the id in the partitions inside the window first, so a copy sent later in the window is a
/// duplicate; the unique index catches a copy racing it into the same partition. Two copies racing each other across a
/// partition boundary (both in flight at the same instant, one landing before it and one after) are both stored: the
/// one case the window misses, as narrow as the two requests' overlap. A copy is a duplicate for at least the window
/// and at most the window plus one partition interval (the unique index of the partition it lands in still holds it).
/// </remarks>
public sealed class EventStore(NpgsqlDataSource dataSource, [FromKeyedServices(Extensions.Schema)] Writes writes, IOptionsMonitor<RetentionOptions> retention)
{
    public sealed record StoreResult(Guid Id, bool Duplicate);

    public async Task<StoreResult> StoreAsync(ArtifactEvent e, string source, CancellationToken ct)
    {
        var id = Guid.CreateVersion7();
        var receivedAt = DateTimeOffset.UtcNow;
        var message = e.ToReceived(id, receivedAt);
        // One statement: the event and its outbox row commit together (with whatever else the group commit carries),
        // published right after the commit (the relay takes the row only if that fails).
        var w = writes.Begin();
        var ev = w.Execute(
            """
            insert into ingestion.events (id, entity, event_id, event_type, project, collection, version_id, version_index, alias, tag, author, occurred_at, received_at, source, metadata)
            select @id, @Entity, @EventId, @EventType, @Project, @Collection, @VersionId::text, @VersionIndex::int, @Alias::text, @Tag::text, @Author::text,
                   @OccurredAt, @receivedAt, @source, @metadata::jsonb
            where not exists (select from ingestion.events where entity = @Entity and event_id = @EventId and received_at >= @since)
            on conflict do nothing
            returning id
            """,
            new
            {
                id, e.Entity, e.EventId, e.EventType, e.Project, e.Collection, e.VersionId, e.VersionIndex, e.Alias, e.Tag, e.Author,
                e.OccurredAt, receivedAt, source, metadata = e.MetadataJson, since = receivedAt - retention.CurrentValue.DedupeWindow,
            });
        w.Publish(message, when: ev, messageId: id);
        var stored = await w.CommitAsync(ct);
        if (stored.Count(ev) == 1) return new StoreResult(id, false);
        return new StoreResult(await ExistingAsync(e.Entity, e.EventId, ct), true);
    }

    /// <summary>A run event: the same table, dedupe key and outbox as an artifact event (<see cref="StoreAsync(ArtifactEvent, string, CancellationToken)"/>).</summary>
    public async Task<StoreResult> StoreAsync(RunEvent e, string source, CancellationToken ct)
    {
        var id = Guid.CreateVersion7();
        var receivedAt = DateTimeOffset.UtcNow;
        var message = e.ToReceived(id, receivedAt);
        var w = writes.Begin();
        var ev = w.Execute(
            """
            insert into ingestion.events (id, entity, event_id, event_type, project, author, occurred_at, received_at, source,
                                          run_id, run_name, run_state, run_tags, step, metrics)
            select @id, @Entity, @EventId, @EventType, @Project, @User::text, @OccurredAt, @receivedAt, @source,
                   @RunId, @RunName::text, @State::text, @tags::jsonb, @Step::bigint, @metrics::jsonb
            where not exists (select from ingestion.events where entity = @Entity and event_id = @EventId and received_at >= @since)
            on conflict do nothing
            returning id
            """,
            new
            {
                id, e.Entity, e.EventId, e.EventType, e.Project, e.User, e.OccurredAt, receivedAt, source, e.RunId, e.RunName, e.State,
                tags = e.Tags is null ? null : JsonSerializer.Serialize(e.Tags), e.Step,
                metrics = e.Metrics is null ? null : JsonSerializer.Serialize(e.Metrics),
                since = receivedAt - retention.CurrentValue.DedupeWindow,
            });
        w.Publish(message, when: ev, messageId: id);
        var stored = await w.CommitAsync(ct);
        if (stored.Count(ev) == 1) return new StoreResult(id, false);
        return new StoreResult(await ExistingAsync(e.Entity, e.EventId, ct), true);
    }

    private async Task<Guid> ExistingAsync(string entity, string eventId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.QuerySingleAsync<Guid>(new CommandDefinition(
            "select id from ingestion.events where entity = @entity and event_id = @eventId order by received_at desc limit 1", new { entity, eventId }, cancellationToken: ct));
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
