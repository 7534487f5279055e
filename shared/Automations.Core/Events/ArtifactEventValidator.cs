using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Validation;

namespace Automations.Core.Events;

/// <summary>
/// Validates an artifact event against the rules of schemas/artifact-event.schema.json, on what every producer event
/// shares (<see cref="EventFields"/>: the envelope, the name rules, camelCase names). The same for HTTP and AMQP, after
/// the whole-text rule (<see cref="EventValidator"/>). Hand-written rather than a schema engine on the hot path: it is
/// a few microseconds per event and names every bad field in one answer. A unit test keeps it and the schema file in
/// agreement.
/// </summary>
public static class ArtifactEventValidator
{
    private static readonly string[] Known =
        ["eventId", "eventType", "entity", "project", "collection", "versionId", "versionIndex", "alias", "tag", "author", "occurredAt", "metadata"];

    /// <summary>The whole text (<see cref="EventValidator.Parse"/>), then the artifact event's fields.</summary>
    public static (ArtifactEvent? Event, IReadOnlyList<FieldError> Errors) Validate(ReadOnlySpan<byte> utf8Json)
    {
        var (doc, error) = EventValidator.Parse(utf8Json);
        if (doc is null) return (null, [error!]);
        using (doc)
            return Validate(doc.RootElement);
    }

    public static (ArtifactEvent? Event, IReadOnlyList<FieldError> Errors) Validate(JsonElement root)
    {
        if (EventFields.Read(root, Known) is not { } f) return (null, [EventFields.NotAnObject]);

        var (eventId, eventType, entity, project) = f.Envelope(EventTypes.IsKnown);
        var collection = f.String("collection", true, NameRules.MaxCollectionLength, NameRules.CheckCollection);
        var versionId = f.String("versionId", false);
        var alias = f.String("alias", false);
        var tag = f.String("tag", false);
        var author = f.String("author", false);
        var versionIndex = (int?)f.NonNegativeInteger("versionIndex", int.MaxValue);
        var occurredAt = f.OccurredAt();

        JsonElement? metadata = null;
        if (f.TryGet("metadata", out var md))
        {
            if (md.ValueKind == JsonValueKind.Object) metadata = md.Clone();
            else f.Add("metadata", "must be a JSON object");
        }

        if (eventType == EventTypes.AddArtifactAlias && alias is null && !f.Errors.Any(e => e.Field == "alias"))
            f.Add("alias", "is required for ADD_ARTIFACT_ALIAS");

        if (f.Errors.Count > 0) return (null, f.Errors);
        return (new ArtifactEvent(eventId!, eventType!, entity!, project!, collection!, versionId, versionIndex, alias, tag, author, occurredAt, metadata), f.Errors);
    }
}
