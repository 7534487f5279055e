using System.Globalization;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Validation;

namespace Automations.Core.Events;

/// <summary>
/// What every producer event shares, artifact or run: its properties found by name in any case (camelCase, PascalCase),
/// a snake_case spelling of a known field refused with its camelCase name (it would otherwise bind to null), strings
/// with their lengths and rules, the envelope (eventId, eventType, entity, project, occurredAt) with the limits and
/// name rules of both schemas, and field paths spelled as <see cref="JsonText"/> spells them (<c>tags[1]</c>,
/// <c>metrics.val_loss</c>). Every problem is collected in <see cref="Errors"/>, so one answer names every bad field.
/// </summary>
internal sealed class EventFields
{
    /// <summary>eventId, the producer's dedupe key (one key space per entity for artifact and run events).</summary>
    public const int MaxIdLength = 200;
    /// <summary>A free-text field (author, alias, tag, runName, user, a run's tag).</summary>
    public const int MaxTextLength = 256;
    private const int MaxTypeLength = 64;
    private const int MaxDateLength = 64;

    private readonly Dictionary<string, JsonElement> _props = new(StringComparer.OrdinalIgnoreCase);

    public List<FieldError> Errors { get; } = [];

    private EventFields() { }

    /// <summary>The fields of <paramref name="root"/>, or null when it is not a JSON object.</summary>
    public static EventFields? Read(JsonElement root, IReadOnlyCollection<string> known)
    {
        if (root.ValueKind != JsonValueKind.Object) return null;
        var fields = new EventFields();
        foreach (var p in root.EnumerateObject())
        {
            fields._props[p.Name] = p.Value;
            if (p.Name.Contains('_', StringComparison.Ordinal) && ToCamel(p.Name) is var camel && known.Contains(camel, StringComparer.Ordinal))
                fields.Add(p.Name, $"unknown field; property names are camelCase: use \"{camel}\"");
        }
        return fields;
    }

    public static readonly FieldError NotAnObject = new("body", "must be a JSON object");

    public void Add(string field, string message) => Errors.Add(new FieldError(field, message));

    /// <summary>The path of an element of an array field, as <see cref="JsonText"/> and the rest of the project write it.</summary>
    public static string Element(string array, int index) => $"{array}[{index.ToString(CultureInfo.InvariantCulture)}]";

    /// <summary>The path of a property of an object field.</summary>
    public static string Member(string obj, string name) => $"{obj}.{name}";

    /// <summary>The field's value when it is present and not null.</summary>
    public bool TryGet(string name, out JsonElement value) =>
        _props.TryGetValue(name, out value) && value.ValueKind != JsonValueKind.Null;

    public string? String(string name, bool required, int max = MaxTextLength, Func<string, string?>? rule = null)
    {
        if (!TryGet(name, out var v))
        {
            if (required) Add(name, "is required");
            return null;
        }
        if (v.ValueKind != JsonValueKind.String) { Add(name, "must be a string"); return null; }
        var s = v.GetString()!;
        if (s.Length == 0) { Add(name, "must not be empty"); return null; }
        if (s.Length > max) { Add(name, $"must be at most {max} characters"); return null; }
        if (rule?.Invoke(s) is { } broken) { Add(name, broken); return null; }
        return s;
    }

    /// <summary>A whole number from 0 to <paramref name="max"/>; <paramref name="requiredFor"/> names the event type that needs it.</summary>
    public long? NonNegativeInteger(string name, long max, string? requiredFor = null)
    {
        if (!TryGet(name, out var v))
        {
            if (requiredFor is not null) Add(name, $"is required for {requiredFor}");
            return null;
        }
        if (v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out var n) && n >= 0 && n <= max) return n;
        Add(name, "must be a non-negative integer");
        return null;
    }

    /// <summary>
    /// eventId, eventType, entity and project, in that order; an eventType of the other kind of event (or none known)
    /// is refused with every type a producer may send.
    /// </summary>
    public (string? EventId, string? EventType, string? Entity, string? Project) Envelope(Func<string, bool> isOfThisKind)
    {
        var eventId = String("eventId", true, MaxIdLength);
        var eventType = String("eventType", true, MaxTypeLength);
        if (eventType is not null && !isOfThisKind(eventType))
        {
            Add("eventType", $"unknown event type \"{eventType}\"; expected one of {string.Join(", ", EventTypes.All.Concat(RunEventTypes.Produced))}");
            eventType = null;
        }
        var entity = String("entity", true, NameRules.MaxEntityLength, NameRules.CheckEntity);
        var project = String("project", true, NameRules.MaxProjectLength, NameRules.CheckProject);
        return (eventId, eventType, entity, project);
    }

    /// <summary>The required occurredAt, in UTC (default when missing or bad: an error is recorded).</summary>
    public DateTimeOffset OccurredAt()
    {
        var raw = String("occurredAt", true, MaxDateLength);
        if (raw is null) return default;
        if (DateTimeOffset.TryParse(raw, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
            return at.ToUniversalTime();
        Add("occurredAt", "must be an RFC 3339 date-time, e.g. 2026-11-27T22:41:00Z");
        return default;
    }

    private static string ToCamel(string snake)
    {
        var parts = snake.Split('_', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) return snake;
        return parts[0].ToLowerInvariant() + string.Concat(parts.Skip(1).Select(p => char.ToUpperInvariant(p[0]) + p[1..].ToLowerInvariant()));
    }
}
