using System.Text.Json;
using System.Text.RegularExpressions;
using Automations.Contracts;

namespace Automations.Core.Events;

/// <summary>
/// Validates a run event against the rules of schemas/run-event.schema.json, on what every producer event shares
/// (<see cref="EventFields"/>), after the whole-text rule (<see cref="EventValidator"/>), as for artifact events.
/// </summary>
/// <remarks>
/// A metric value is what W&amp;B logs, a 64-bit float: any finite JSON number, integers beyond 2^53 included (kept as the
/// nearest double, as W&amp;B keeps them). NaN and ±Infinity have no JSON spelling; their string forms, like every
/// string, boolean, null, object or array, are refused naming the metric, as the whole-text rule refuses a number
/// beyond ±1.8e308 or too close to zero for a double.
/// </remarks>
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
        if (EventFields.Read(root, Known) is not { } f) return (null, [EventFields.NotAnObject]);

        var (eventId, eventType, entity, project) = f.Envelope(RunEventTypes.IsProduced);
        var runId = f.String("runId", true, MaxRunIdLength,
            s => RunIdPattern().IsMatch(s) ? null : "may contain only letters, digits, '_', '.' and '-'");
        var runName = f.String("runName", false);
        var user = f.String("user", false);
        var tags = Tags(f);

        string? state = null;
        long? step = null;
        Dictionary<string, double>? metrics = null;
        if (eventType == RunEventTypes.RunState)
        {
            state = f.String("state", true, 32);
            if (state is not null && !RunEventTypes.States.Contains(state, StringComparer.Ordinal))
            {
                f.Add("state", $"'{state}' is not one of {string.Join(", ", RunEventTypes.States)}");
                state = null;
            }
        }
        else if (eventType == RunEventTypes.RunMetric)
        {
            step = f.NonNegativeInteger("step", long.MaxValue, requiredFor: RunEventTypes.RunMetric);
            metrics = Metrics(f);
        }

        var occurredAt = f.OccurredAt();

        if (f.Errors.Count > 0) return (null, f.Errors);
        return (new RunEvent(eventId!, eventType!, entity!, project!, runId!, runName, user, tags, state, step, metrics, occurredAt), f.Errors);
    }

    private static List<string>? Tags(EventFields f)
    {
        if (!f.TryGet("tags", out var t)) return null;
        if (t.ValueKind != JsonValueKind.Array) { f.Add("tags", "must be an array of strings"); return null; }
        if (t.GetArrayLength() > MaxTags) { f.Add("tags", $"must have at most {MaxTags} items"); return null; }
        var tags = new List<string>();
        var i = 0;
        foreach (var item in t.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String || item.GetString() is not { Length: > 0 and <= EventFields.MaxTextLength } tag)
                f.Add(EventFields.Element("tags", i), $"must be a string of 1 to {EventFields.MaxTextLength} characters");
            else tags.Add(tag);
            i++;
        }
        return tags;
    }

    private static Dictionary<string, double>? Metrics(EventFields f)
    {
        if (!f.TryGet("metrics", out var m)) { f.Add("metrics", $"is required for {RunEventTypes.RunMetric}"); return null; }
        if (m.ValueKind != JsonValueKind.Object) { f.Add("metrics", "must be a JSON object of metric name to number"); return null; }
        var metrics = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (var p in m.EnumerateObject())
        {
            if (p.Name.Length is 0 or > MaxMetricNameLength)
                f.Add("metrics", $"a metric name must be 1 to {MaxMetricNameLength} characters");
            else if (p.Value.ValueKind != JsonValueKind.Number || !p.Value.TryGetDouble(out var value) || !double.IsFinite(value))
                f.Add(EventFields.Member("metrics", p.Name), "must be a finite number (a 64-bit float)");
            else if (!metrics.TryAdd(p.Name, value))
                f.Add(EventFields.Member("metrics", p.Name), "appears twice");
        }
        if (metrics.Count == 0 && !f.Errors.Any(e => e.Field.StartsWith("metrics", StringComparison.Ordinal)))
            f.Add("metrics", "must name at least one metric");
        if (metrics.Count > MaxMetrics) f.Add("metrics", $"must have at most {MaxMetrics} metrics");
        return metrics;
    }
}
