using System.Text.Json;

namespace Automations.Core.Events;

/// <summary>A validated artifact event as a producer sent it (HTTP body or raw AMQP message).</summary>
public sealed record ArtifactEvent(
    string EventId,
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
    JsonElement? Metadata)
{
    public string? MetadataJson => Metadata is { ValueKind: JsonValueKind.Object } m ? m.GetRawText() : null;

    /// <summary>The message Ingestion publishes for it (<paramref name="id"/> is ours, EventId the producer's).</summary>
    public Contracts.ArtifactEventReceived ToReceived(Guid id, DateTimeOffset receivedAt) =>
        new(id, EventId, EventType, Entity, Project, Collection, VersionId, VersionIndex, Alias, Tag, Author, OccurredAt, MetadataJson, receivedAt);
}

/// <summary>One reason an event was refused, naming the field (a JSON pointer without the leading slash).</summary>
public sealed record FieldError(string Field, string Message)
{
    public override string ToString() => $"{Field}: {Message}";
}
