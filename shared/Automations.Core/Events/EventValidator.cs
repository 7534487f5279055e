using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Validation;

namespace Automations.Core.Events;

/// <summary>
/// The one intake check, for HTTP and AMQP alike: the whole text first (<see cref="JsonText"/>), then by its
/// <c>eventType</c> an artifact event (<see cref="ArtifactEventValidator"/>) or a run event (<see cref="RunEventValidator"/>).
/// Exactly one of the two events is set when <c>Errors</c> is empty.
/// </summary>
public static class EventValidator
{
    public sealed record Result(ArtifactEvent? Artifact, RunEvent? Run, IReadOnlyList<FieldError> Errors)
    {
        public bool Valid => Errors.Count == 0;
        public string Entity => Artifact?.Entity ?? Run?.Entity ?? "";
        public string Project => Artifact?.Project ?? Run?.Project ?? "";
        public string EventType => Artifact?.EventType ?? Run?.EventType ?? "";
        public string EventId => Artifact?.EventId ?? Run?.EventId ?? "";
    }

    public static Result Validate(ReadOnlySpan<byte> utf8Json)
    {
        if (utf8Json.IsEmpty)
            return Invalid(new FieldError("body", "the body is empty; send a JSON object"));
        if (utf8Json.Length > ArtifactEventValidator.MaxBodyBytes)
            return Invalid(new FieldError("body", $"larger than {ArtifactEventValidator.MaxBodyBytes} bytes"));
        if (JsonText.Check(utf8Json) is { } unstorable)
            return Invalid(unstorable);
        JsonDocument doc;
        try
        {
            var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = 64 });
            doc = JsonDocument.ParseValue(ref reader);
        }
        catch (JsonException ex)
        {
            return Invalid(new FieldError("body", $"not valid JSON: {(ex.Message.Length > 200 ? ex.Message[..200] : ex.Message)}"));
        }
        using (doc)
        {
            if (IsRunEvent(doc.RootElement))
            {
                var (run, errors) = RunEventValidator.Validate(doc.RootElement);
                return new Result(null, run, errors);
            }
            var (artifact, artifactErrors) = ArtifactEventValidator.Validate(doc.RootElement);
            return new Result(artifact, null, artifactErrors);
        }
    }

    private static bool IsRunEvent(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) return false;
        foreach (var p in root.EnumerateObject())
            if (string.Equals(p.Name, "eventType", StringComparison.OrdinalIgnoreCase) && p.Value.ValueKind == JsonValueKind.String)
                return RunEventTypes.IsProduced(p.Value.GetString());
        return false;
    }

    private static Result Invalid(FieldError error) => new(null, null, [error]);

    /// <summary>One line for storage and problem details.</summary>
    public static string Describe(IReadOnlyList<FieldError> errors) => string.Join("; ", errors);

    internal static string ToCamel(string snake)
    {
        var parts = snake.Split('_', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) return snake;
        return parts[0].ToLowerInvariant() + string.Concat(parts.Skip(1).Select(p => char.ToUpperInvariant(p[0]) + p[1..].ToLowerInvariant()));
    }
}
