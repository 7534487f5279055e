using System.Text.Json;
using System.Text.Json.Serialization;
using Automations.Contracts;
using Automations.Core.Events;

namespace Automations.Core.Runs;

/// <summary>How a window of metric values is reduced to one number (W&amp;B's <c>Agg</c>; no agg = the latest value).</summary>
public enum MetricAgg { Latest, Min, Max, Average }

/// <summary>W&amp;B's <c>ChangeType</c>: an arithmetic difference, or a fraction of the prior window's value.</summary>
public enum ChangeType { Absolute, Relative }

/// <summary>W&amp;B's <c>ChangeDir</c>.</summary>
public enum ChangeDir { Increase, Decrease, Any }

/// <summary>
/// The metric condition of a RUN_METRIC_THRESHOLD or RUN_METRIC_CHANGE automation, with W&amp;B's names
/// (<c>MetricThresholdFilter</c>: name, agg, window, cmp, threshold; <c>MetricChangeFilter</c>: name, agg, window,
/// priorWindow, changeType, changeDir, changeAmount). Stored as JSON in <c>control.automations.run_filter</c>.
/// </summary>
public sealed class MetricFilter
{
    public const int MaxWindow = 100;

    public string? Name { get; set; }
    /// <summary>LATEST (or absent), MIN, MAX, AVERAGE.</summary>
    public string? Agg { get; set; }
    /// <summary>The last N logged values the aggregate covers (the current window of a change); 1 when absent.</summary>
    public int? Window { get; set; }
    /// <summary>Threshold: &lt;, &lt;=, &gt;, &gt;= (or W&amp;B's $lt, $lte, $gt, $gte).</summary>
    public string? Cmp { get; set; }
    public double? Threshold { get; set; }
    /// <summary>Change: the N values before the current window; the current window's size when absent.</summary>
    public int? PriorWindow { get; set; }
    /// <summary>Change: ABSOLUTE or RELATIVE.</summary>
    public string? ChangeType { get; set; }
    /// <summary>Change: INCREASE, DECREASE or ANY (absent: ANY).</summary>
    public string? ChangeDir { get; set; }
    /// <summary>Change: the amount, positive (RELATIVE: a fraction, 0.1 = 10 %).</summary>
    public double? ChangeAmount { get; set; }
}

/// <summary>The run part of a run automation's trigger (stored as JSON in <c>control.automations.run_filter</c>).</summary>
public sealed class RunFilter
{
    /// <summary>RUN_STATE: the state the run enters (running, finished, failed, crashed).</summary>
    public string? State { get; set; }
    /// <summary>A regex searched in the run's name (a search, as W&amp;B's <c>$regex</c>; anchor it to match whole).</summary>
    public string? RunNameRegex { get; set; }
    /// <summary>Only runs of this user (exact).</summary>
    public string? User { get; set; }
    public MetricFilter? Metric { get; set; }

    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    public static RunFilter? FromJson(string? json) => string.IsNullOrEmpty(json) ? null : JsonSerializer.Deserialize<RunFilter>(json, Options);

    /// <summary>
    /// Save-time check for an automation of <paramref name="eventType"/>; errors name the field under <c>event.</c>.
    /// The run name regex is checked by the caller, with the other regexes.
    /// </summary>
    public IReadOnlyList<FieldError> Check(string eventType)
    {
        var errors = new List<FieldError>();
        if (User is { Length: > 256 }) errors.Add(new FieldError("event.user", "must be at most 256 characters"));
        if (eventType == RunEventTypes.RunState)
        {
            if (string.IsNullOrEmpty(State)) errors.Add(new FieldError("event.state", $"is required for RUN_STATE: one of {string.Join(", ", RunEventTypes.States)}"));
            else if (!RunEventTypes.States.Contains(State, StringComparer.Ordinal)) errors.Add(new FieldError("event.state", $"'{State}' is not one of {string.Join(", ", RunEventTypes.States)}"));
            if (Metric is not null) errors.Add(new FieldError("event.metric", "is only for RUN_METRIC_THRESHOLD and RUN_METRIC_CHANGE"));
            return errors;
        }
        if (State is not null) errors.Add(new FieldError("event.state", "is only for RUN_STATE"));
        if (Metric is null)
        {
            errors.Add(new FieldError("event.metric", "is required: {name, agg, window, cmp, threshold} or {name, agg, window, priorWindow, changeType, changeDir, changeAmount}"));
            return errors;
        }
        var m = Metric;
        if (string.IsNullOrEmpty(m.Name)) errors.Add(new FieldError("event.metric.name", "is required"));
        else if (m.Name.Length > RunEventValidator.MaxMetricNameLength) errors.Add(new FieldError("event.metric.name", $"must be at most {RunEventValidator.MaxMetricNameLength} characters"));
        if (ParseAgg(m.Agg) is null) errors.Add(new FieldError("event.metric.agg", $"'{m.Agg}' is not one of LATEST, MIN, MAX, AVERAGE"));
        if (m.Window is { } w && (w < 1 || w > MetricFilter.MaxWindow)) errors.Add(new FieldError("event.metric.window", $"must be 1 to {MetricFilter.MaxWindow}"));
        if (eventType == RunEventTypes.RunMetricThreshold)
        {
            if (ParseCmp(m.Cmp) is null) errors.Add(new FieldError("event.metric.cmp", m.Cmp is null ? "is required: <, <=, > or >=" : $"'{m.Cmp}' is not one of <, <=, >, >="));
            if (m.Threshold is not { } t || !double.IsFinite(t)) errors.Add(new FieldError("event.metric.threshold", "is required: a number"));
            foreach (var (field, set) in new[] { ("priorWindow", m.PriorWindow is not null), ("changeType", m.ChangeType is not null), ("changeDir", m.ChangeDir is not null), ("changeAmount", m.ChangeAmount is not null) })
                if (set) errors.Add(new FieldError($"event.metric.{field}", "is only for RUN_METRIC_CHANGE"));
        }
        else
        {
            if (m.PriorWindow is { } p && (p < 1 || p > MetricFilter.MaxWindow)) errors.Add(new FieldError("event.metric.priorWindow", $"must be 1 to {MetricFilter.MaxWindow}"));
            if (ParseChangeType(m.ChangeType) is null) errors.Add(new FieldError("event.metric.changeType", m.ChangeType is null ? "is required: ABSOLUTE or RELATIVE" : $"'{m.ChangeType}' is not ABSOLUTE or RELATIVE"));
            if (ParseChangeDir(m.ChangeDir) is null) errors.Add(new FieldError("event.metric.changeDir", $"'{m.ChangeDir}' is not one of INCREASE, DECREASE, ANY"));
            if (m.ChangeAmount is not { } a || !double.IsFinite(a) || a <= 0) errors.Add(new FieldError("event.metric.changeAmount", "is required: a positive number"));
            if (m.Cmp is not null) errors.Add(new FieldError("event.metric.cmp", "is only for RUN_METRIC_THRESHOLD"));
            if (m.Threshold is not null) errors.Add(new FieldError("event.metric.threshold", "is only for RUN_METRIC_THRESHOLD (a change has changeAmount)"));
        }
        return errors;
    }

    /// <summary>The condition a valid metric filter stands for; null when it does not hold one (not checked, or a state trigger).</summary>
    public MetricCondition? Condition(string eventType)
    {
        if (Metric is not { Name: { Length: > 0 } name } m || ParseAgg(m.Agg) is not { } agg) return null;
        var window = m.Window ?? 1;
        if (eventType == RunEventTypes.RunMetricThreshold && ParseCmp(m.Cmp) is { } cmp && m.Threshold is { } t)
            return new MetricCondition.Threshold(name, agg, window, cmp, t);
        if (eventType == RunEventTypes.RunMetricChange && ParseChangeType(m.ChangeType) is { } type && ParseChangeDir(m.ChangeDir) is { } dir && m.ChangeAmount is { } amount)
            return new MetricCondition.Change(name, agg, window, m.PriorWindow ?? window, type, dir, amount);
        return null;
    }

    public static MetricAgg? ParseAgg(string? s) => s?.ToUpperInvariant() switch
    {
        null or "" or "LATEST" => MetricAgg.Latest,
        "MIN" => MetricAgg.Min,
        "MAX" => MetricAgg.Max,
        "AVERAGE" or "AVG" => MetricAgg.Average,
        _ => null,
    };

    public static string? ParseCmp(string? s) => s?.Trim() switch
    {
        "<" or "$lt" => "<",
        "<=" or "$lte" => "<=",
        ">" or "$gt" => ">",
        ">=" or "$gte" => ">=",
        _ => null,
    };

    public static ChangeType? ParseChangeType(string? s) => s?.ToUpperInvariant() switch
    {
        "ABSOLUTE" or "ABS" => Runs.ChangeType.Absolute,
        "RELATIVE" or "REL" => Runs.ChangeType.Relative,
        _ => null,
    };

    public static ChangeDir? ParseChangeDir(string? s) => s?.ToUpperInvariant() switch
    {
        null or "" or "ANY" => Runs.ChangeDir.Any,
        "INCREASE" or "INC" => Runs.ChangeDir.Increase,
        "DECREASE" or "DEC" => Runs.ChangeDir.Decrease,
        _ => null,
    };
}
