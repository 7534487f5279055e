using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Automations.Contracts;
using Automations.Core.Validation;

namespace Automations.Core.Events;

/// <summary>
/// Validates a run event against the rules of schemas/run-event.schema.json (the JSON text rule and the name rules are
/// applied by <see cref="EventValidator"/> first, as for artifact events). Names every bad field in one answer and
/// catches snake_case names, like <see cref="ArtifactEventValidator"/>.
/// </summary>
public static partial class RunEventValidator
{
    public const int MaxRunIdLength = 128;
    public const int MaxTags = 64;
    /// <summary>Metrics in one RUN_METRIC event: W&amp;B logs tens per step; the bound keeps one event's work (and its state rows) small.</summary>
    public const int MaxMetrics = 256;
    public const int MaxMetricNameLength = 256;

    private static readonly string[] Known =
        ["eventId", "eventType", "entity", "project", "runId", "runName", "user", "tags", "state", "step", "metrics", "occurredAt"];

    /// <summary>W&amp;B's run id characters (no '/', '\', '#', '?', '%', ':'), so that it can stand in a run URL as it is.</summary>
    [GeneratedRegex("^[A-Za-z0-9_.-]+$", RegexOptions.CultureInvariant)]
    private static partial Regex RunIdPattern();

    public static (RunEvent? Event, IReadOnlyList<FieldError> Errors) Validate(JsonElement root)
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
                var camel = EventValidator.ToCamel(p.Name);
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

        var eventId = Str("eventId", true, ArtifactEventValidator.MaxIdLength);
        var eventType = Str("eventType", true, 64);
        if (eventType is not null && !RunEventTypes.IsProduced(eventType))
        {
            errors.Add(new FieldError("eventType", $"unknown run event type \"{eventType}\"; expected one of {string.Join(", ", RunEventTypes.Produced)}"));
            eventType = null;
        }
        var entity = Str("entity", true, NameRules.MaxEntityLength, NameRules.CheckEntity);
        var project = Str("project", true, NameRules.MaxProjectLength, NameRules.CheckProject);
        var runId = Str("runId", true, MaxRunIdLength,
            s => RunIdPattern().IsMatch(s) ? null : "may contain only letters, digits, '_', '.' and '-'");
        var runName = Str("runName", false, 256);
        var user = Str("user", false, 256);

        List<string>? tags = null;
        if (props.TryGetValue("tags", out var t) && t.ValueKind != JsonValueKind.Null)
        {
            if (t.ValueKind != JsonValueKind.Array) errors.Add(new FieldError("tags", "must be an array of strings"));
            else if (t.GetArrayLength() > MaxTags) errors.Add(new FieldError("tags", $"must have at most {MaxTags} items"));
            else
            {
                tags = [];
                var i = 0;
                foreach (var item in t.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String || item.GetString() is not { Length: > 0 and <= 256 } tag)
                        errors.Add(new FieldError($"tags.{i}", "must be a string of 1 to 256 characters"));
                    else tags.Add(tag);
                    i++;
                }
            }
        }

        string? state = null;
        long? step = null;
        Dictionary<string, double>? metrics = null;
        if (eventType == RunEventTypes.RunState)
        {
            state = Str("state", true, 32);
            if (state is not null && !RunEventTypes.States.Contains(state, StringComparer.Ordinal))
            {
                errors.Add(new FieldError("state", $"'{state}' is not one of {string.Join(", ", RunEventTypes.States)}"));
                state = null;
            }
        }
        else if (eventType == RunEventTypes.RunMetric)
        {
            if (!props.TryGetValue("step", out var s) || s.ValueKind == JsonValueKind.Null) errors.Add(new FieldError("step", "is required for RUN_METRIC"));
            else if (s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out var n) && n >= 0) step = n;
            else errors.Add(new FieldError("step", "must be a non-negative integer"));

            if (!props.TryGetValue("metrics", out var m) || m.ValueKind == JsonValueKind.Null) errors.Add(new FieldError("metrics", "is required for RUN_METRIC"));
            else if (m.ValueKind != JsonValueKind.Object) errors.Add(new FieldError("metrics", "must be a JSON object of metric name to number"));
            else
            {
                metrics = new Dictionary<string, double>(StringComparer.Ordinal);
                foreach (var p in m.EnumerateObject())
                {
                    if (p.Name.Length is 0 or > MaxMetricNameLength)
                        errors.Add(new FieldError("metrics", $"a metric name must be 1 to {MaxMetricNameLength} characters"));
                    else if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetDouble(out var value) || !double.IsFinite(value))
                        errors.Add(new FieldError($"metrics.{p.Name}", "must be a finite number"));
                    else if (!metrics.TryAdd(p.Name, value))
                        errors.Add(new FieldError($"metrics.{p.Name}", "appears twice"));
                }
                if (metrics.Count == 0 && !errors.Any(e => e.Field.StartsWith("metrics", StringComparison.Ordinal)))
                    errors.Add(new FieldError("metrics", "must name at least one metric"));
                if (metrics.Count > MaxMetrics) errors.Add(new FieldError("metrics", $"must have at most {MaxMetrics} metrics"));
            }
        }

        DateTimeOffset occurredAt = default;
        var occurredRaw = Str("occurredAt", true, 64);
        if (occurredRaw is not null &&
            !DateTimeOffset.TryParse(occurredRaw, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out occurredAt))
            errors.Add(new FieldError("occurredAt", "must be an RFC 3339 date-time, e.g. 2026-11-27T22:41:00Z"));

        if (errors.Count > 0) return (null, errors);
        return (new RunEvent(eventId!, eventType!, entity!, project!, runId!, runName, user, tags, state, step, metrics, occurredAt.ToUniversalTime()), errors);
    }
}
