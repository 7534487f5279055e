using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Validation;

namespace Automations.Core.Events;

/// <summary>
/// The one intake check, for HTTP and AMQP alike: the whole text first (<see cref="Parse"/>), then by its
/// <c>eventType</c> an artifact event (<see cref="ArtifactEventValidator"/>) or a run event (<see cref="RunEventValidator"/>).
/// Exactly one of the two events is set when <c>Errors</c> is empty.
/// </summary>
public static class EventValidator
{
    /// <summary>The largest event, over HTTP and AMQP alike.</summary>
    public const int MaxBodyBytes = 256 * 1024;

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
        var (doc, error) = Parse(utf8Json);
        if (doc is null) return new Result(null, null, [error!]);
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

    /// <summary>
    /// The rules of the text as a whole: not empty, at most <see cref="MaxBodyBytes"/>, <see cref="JsonText"/> (UTF-8, no NUL
    /// or lone surrogate, numbers a double can hold), then parsed: the document, or the one error that stops the rest.
    /// </summary>
    public static (JsonDocument? Document, FieldError? Error) Parse(ReadOnlySpan<byte> utf8Json)
    {
        if (utf8Json.IsEmpty)
            return (null, new FieldError("body", "the body is empty; send a JSON object"));
        if (utf8Json.Length > MaxBodyBytes)
            return (null, new FieldError("body", $"larger than {MaxBodyBytes} bytes"));
        if (JsonText.Check(utf8Json) is { } unstorable)
            return (null, unstorable);
        try
        {
            var reader = new Utf8JsonReader(utf8Json, new JsonReaderOptions { MaxDepth = 64 });
            return (JsonDocument.ParseValue(ref reader), null);
        }
        catch (JsonException ex)
        {
            return (null, new FieldError("body", $"not valid JSON: {(ex.Message.Length > 200 ? ex.Message[..200] : ex.Message)}"));
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

    /// <summary>One line for storage and problem details.</summary>
    public static string Describe(IReadOnlyList<FieldError> errors) => string.Join("; ", errors);
}
