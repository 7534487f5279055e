namespace Automations.Contracts;

/// <summary>An artifact event accepted by Ingestion. <paramref name="EventId"/> is ours; <paramref name="ProducerEventId"/> is the producer's dedupe key.</summary>
public record ArtifactEventReceived(
    Guid EventId,
    string ProducerEventId,
    string EventType,
    string Entity,
    string Project,
    string Collection,
    string? VersionId,
    int? VersionIndex,
    string? Alias,
    string? Tag,
    string? Author,
    DateTimeOffset OccurredAt,
    string? MetadataJson,
    DateTimeOffset ReceivedAt);
