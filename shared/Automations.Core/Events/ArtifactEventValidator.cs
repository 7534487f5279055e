using System.Globalization;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Validation;

namespace Automations.Core.Events;

/// <summary>
/// Validates a producer's JSON against the rules of schemas/artifact-event.schema.json, after the rule every JSON
/// input meets (<see cref="JsonText"/>: UTF-8, no NUL or lone surrogate, numbers a double can hold), with the name rules
/// the Api applies to automations (<see cref="NameRules"/>). The same for HTTP and AMQP.
/// Hand-written rather than a schema engine on the hot path: it is a few microseconds per event,
/// names every bad field in one answer, and catches snake_case names (which would otherwise bind to null).
/// A unit test keeps it and the schema file in agreement.
/// </summary>
public static class ArtifactEventValidator
{
    public const int MaxIdLength = 200;
    /// <summary>The largest event, over HTTP and AMQP alike.</summary>
    public const int MaxBodyBytes = 256 * 1024;

    private static readonly string[] Known =
        ["eventId", "eventType", "entity", "project", "collection", "versionId", "versionIndex", "alias", "tag", "author", "occurredAt", "metadata"];

    public static (ArtifactEvent? Event, IReadOnlyList<FieldError> Errors) Validate(ReadOnlySpan<byte> utf8Json)
    {
        if (utf8Json.IsEmpty)
            return (null, [new FieldError("body", "the body is empty; send a JSON object")]);
        if (utf8Json.Length > MaxBodyBytes)
            return (null, [new FieldError("body", $"larger than {MaxBodyBytes} bytes")]);
        if (JsonText.Check(utf8Json) is { } unstorable)
            return (null, [unstorable]);
        JsonDocument doc;
        try
        {
            var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = 64 });
            doc = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            return (null, [new FieldError("body", $"not valid JSON: {Shorten(ex.Message)}")]);
        }
        using (doc)
            return Validate(doc.RootElement);
    }

    public static (ArtifactEvent? Event, IReadOnlyList<FieldError> Errors) Validate(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object)
            return (null, [new FieldError("body", "must be a JSON object")]);

        var errors = new List<FieldError>();
        var props = new Dictionary<string, JsonElement>(StringComparer.OrdinalIgnoreCase);
        foreach (var p in root.EnumerateObject())
        {
            props[p.Name] = p.Value;
            if (p.Name.Contains('_', StringComparison.Ordinal))
            {
                var camel = ToCamel(p.Name);
                if (Known.Contains(camel, StringComparer.Ordinal))
                    errors.Add(new FieldError(p.Name, $"unknown field; property names are camelCase: use \"{camel}\""));
            }
        }

        string? Str(string name, bool required, int max, Func<string, string?>? rule = null)
        {
            if (!props.TryGetValue(name, out var v) || v.ValueKind == JsonValueKind.Null)
            {
                if (required) errors.Add(new FieldError(name, "is required"));
                return null;
            }
            if (v.ValueKind != JsonValueKind.String) { errors.Add(new FieldError(name, "must be a string")); return null; }
            var s = v.GetString()!;
            if (s.Length == 0) { errors.Add(new FieldError(name, "must not be empty")); return null; }
            if (s.Length > max) { errors.Add(new FieldError(name, $"must be at most {max} characters")); return null; }
            if (rule?.Invoke(s) is { } broken) { errors.Add(new FieldError(name, broken)); return null; }
            return s;
        }

        var eventId = Str("eventId", true, MaxIdLength);
        var eventType = Str("eventType", true, 64);
        if (eventType is not null && !EventTypes.IsKnown(eventType))
        {
            errors.Add(new FieldError("eventType", $"unknown event type \"{eventType}\"; expected one of {string.Join(", ", EventTypes.All.Concat(RunEventTypes.Produced))}"));
            eventType = null;
        }
        var entity = Str("entity", true, NameRules.MaxEntityLength, NameRules.CheckEntity);
        var project = Str("project", true, NameRules.MaxProjectLength, NameRules.CheckProject);
        var collection = Str("collection", true, NameRules.MaxCollectionLength, NameRules.CheckCollection);
        var versionId = Str("versionId", false, 256);
        var alias = Str("alias", false, 256);
        var tag = Str("tag", false, 256);
        var author = Str("author", false, 256);

        int? versionIndex = null;
        if (props.TryGetValue("versionIndex", out var vi) && vi.ValueKind != JsonValueKind.Null)
        {
            if (vi.ValueKind == JsonValueKind.Number && vi.TryGetInt32(out var n) && n >= 0) versionIndex = n;
            else errors.Add(new FieldError("versionIndex", "must be a non-negative integer"));
        }

        DateTimeOffset occurredAt = default;
        var occurredRaw = Str("occurredAt", true, 64);
        if (occurredRaw is not null &&
            !DateTimeOffset.TryParse(occurredRaw, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out occurredAt))
            errors.Add(new FieldError("occurredAt", "must be an RFC 3339 date-time, e.g. 2026-11-27T22:41:00Z"));

        JsonElement? metadata = null;
        if (props.TryGetValue("metadata", out var md) && md.ValueKind != JsonValueKind.Null)
        {
            if (md.ValueKind == JsonValueKind.Object) metadata = md.Clone();
            else errors.Add(new FieldError("metadata", "must be a JSON object"));
        }

        if (eventType == EventTypes.AddArtifactAlias && alias is null && !errors.Any(e => e.Field == "alias"))
            errors.Add(new FieldError("alias", "is required for ADD_ARTIFACT_ALIAS"));

        if (errors.Count > 0) return (null, errors);
        return (new ArtifactEvent(eventId!, eventType!, entity!, project!, collection!, versionId, versionIndex, alias, tag, author,
            occurredAt.ToUniversalTime(), metadata), errors);
    }

    /// <summary>One line for storage and problem details.</summary>
    public static string Describe(IReadOnlyList<FieldError> errors) => string.Join("; ", errors);

    private static string ToCamel(string snake)
    {
        var parts = snake.Split('_', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) return snake;
        return parts[0].ToLowerInvariant() + string.Concat(parts.Skip(1).Select(p => char.ToUpperInvariant(p[0]) + p[1..].ToLowerInvariant()));
    }

    private static string Shorten(string s) => s.Length > 200 ? s[..200] : s;
}
