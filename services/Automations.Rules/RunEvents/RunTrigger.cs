using System.Text.RegularExpressions;
using Automations.Contracts;
using Automations.Core.Runs;
using Automations.Persistence.Control;

namespace Automations.Rules.RunEvents;

/// <summary>A run automation's trigger, compiled once per cache load: its run filter and, for a metric automation, its condition.</summary>
public sealed class RunTrigger
{
    private readonly Regex? _runName;

    private RunTrigger(string eventType, RunFilter filter, Regex? runName, MetricCondition? condition)
    {
        EventType = eventType;
        Filter = filter;
        _runName = runName;
        Condition = condition;
    }

    public string EventType { get; }
    public RunFilter Filter { get; }
    /// <summary>Set for RUN_METRIC_THRESHOLD and RUN_METRIC_CHANGE.</summary>
    public MetricCondition? Condition { get; }

    /// <summary>
    /// Null for an artifact automation. Throws ArgumentException (a regex that does not compile, a metric automation
    /// without a condition) or JsonException for a stored filter written past the Api's validation.
    /// </summary>
    public static RunTrigger? For(AutomationRow row, TimeSpan regexTimeout)
    {
        if (!RunEventTypes.IsTrigger(row.EventType)) return null;
        var filter = RunFilter.FromJson(row.RunFilterJson) ?? new RunFilter();
        // A search, as W&B's $regex filters: anchor the pattern to match the whole name.
        var runName = string.IsNullOrEmpty(filter.RunNameRegex) ? null : new Regex(filter.RunNameRegex, RegexOptions.CultureInvariant, regexTimeout);
        MetricCondition? condition = null;
        if (row.EventType != RunEventTypes.RunState)
            condition = filter.Condition(row.EventType) ?? throw new ArgumentException($"the {row.EventType} automation has no usable metric condition");
        return new RunTrigger(row.EventType, filter, runName, condition);
    }

    /// <summary>
    /// The run filter: user equal when set; run name regex found in the run's name when set (a run without a name does
    /// not match). RUN_STATE: the event's state is the automation's. Throws RegexMatchTimeoutException.
    /// </summary>
    public bool MatchesRun(RunEventReceived e)
    {
        if (Filter.User is { } user && !string.Equals(user, e.User, StringComparison.Ordinal)) return false;
        if (_runName is not null && (e.RunName is null || !_runName.IsMatch(e.RunName))) return false;
        return true;
    }

    /// <summary>Whether this automation looks at <paramref name="e"/> at all (type, state or metric, run filter).</summary>
    public bool Watches(RunEventReceived e) => e.EventType switch
    {
        RunEventTypes.RunState => EventType == RunEventTypes.RunState && string.Equals(Filter.State, e.State, StringComparison.Ordinal) && MatchesRun(e),
        RunEventTypes.RunMetric => Condition is { } c && e.Metrics is { } m && m.ContainsKey(c.Metric) && MatchesRun(e),
        _ => false,
    };
}
