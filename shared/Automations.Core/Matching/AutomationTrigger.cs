using System.Text.Json;
using System.Text.RegularExpressions;
using Automations.Contracts;
using Automations.Core.Filters;
using Automations.Core.Runs;

namespace Automations.Core.Matching;

/// <summary>Which of an automation's filters refused an event, in the order they are checked; <see cref="None"/>: it matches.</summary>
public enum Refusal
{
    None,
    /// <summary>A stored filter that does not compile: the automation never matches.</summary>
    Invalid,
    EventType,
    Collection,
    Alias,
    Tag,
    RunState,
    /// <summary>A RUN_METRIC event that does not log the condition's metric.</summary>
    Metric,
    User,
    RunName,
}

/// <summary>
/// An automation's trigger (event type, collection, alias and tag regexes, run filter and metric condition), compiled
/// once: the one home of what "this event triggers this automation" means, for Rules (which fires it) and the Api's
/// preview (which explains it). <see cref="Check(ArtifactEventReceived)"/> answers which filter refused the event, so a
/// match and its explanation cannot disagree; it allocates nothing.
/// </summary>
public sealed class AutomationTrigger
{
    private readonly Regex? _alias;
    private readonly Regex? _tag;
    private readonly Regex? _runName;

    public AutomationTrigger(string eventType, string? collection, string? aliasRegex, string? tagRegex, string? runFilterJson, TimeSpan regexTimeout)
    {
        EventType = eventType;
        Collection = collection;
        try
        {
            _alias = FilterRegex.Compile(aliasRegex, regexTimeout);
            _tag = FilterRegex.Compile(tagRegex, regexTimeout);
            if (RunEventTypes.IsTrigger(eventType))
            {
                RunFilter = RunFilter.FromJson(runFilterJson) ?? new RunFilter();
                // A search, as W&B's $regex filters: anchor the pattern to match the whole name.
                _runName = FilterRegex.Compile(RunFilter.RunNameRegex, regexTimeout);
                if (eventType != RunEventTypes.RunState)
                    Condition = RunFilter.Condition(eventType) ?? throw new ArgumentException($"the {eventType} automation has no usable metric condition");
            }
        }
        catch (ArgumentException ex)
        {
            Invalid = $"invalid filter: {ex.Message}";
        }
        catch (JsonException ex)
        {
            Invalid = $"invalid run filter: {ex.Message}";
        }
    }

    public string EventType { get; }
    /// <summary>Null: every collection of the project.</summary>
    public string? Collection { get; }
    public string? AliasRegex => _alias?.ToString();
    public string? TagRegex => _tag?.ToString();
    public string? RunNameRegex => _runName?.ToString();
    /// <summary>The run filter of a run automation (RUN_STATE, RUN_METRIC_*); null for an artifact automation.</summary>
    public RunFilter? RunFilter { get; }
    /// <summary>Set for RUN_METRIC_THRESHOLD and RUN_METRIC_CHANGE.</summary>
    public MetricCondition? Condition { get; }
    /// <summary>Set when a stored filter does not compile: such an automation never matches.</summary>
    public string? Invalid { get; }

    /// <summary>
    /// Event type equal; collection equal, or null on the automation (whole project); alias regex, when set, found in the
    /// event's alias (a search, as W&amp;B's <c>$regex</c>: see <see cref="FilterRegex"/>; an event without alias does not
    /// match); same for the tag regex. Throws RegexMatchTimeoutException (<see cref="TimedOut"/> names the filter).
    /// </summary>
    public Refusal Check(ArtifactEventReceived e)
    {
        if (Invalid is not null) return Refusal.Invalid;
        if (!string.Equals(EventType, e.EventType, StringComparison.Ordinal)) return Refusal.EventType;
        if (Collection is not null && !string.Equals(Collection, e.Collection, StringComparison.Ordinal)) return Refusal.Collection;
        if (_alias is not null && (e.Alias is null || !_alias.IsMatch(e.Alias))) return Refusal.Alias;
        if (_tag is not null && (e.Tag is null || !_tag.IsMatch(e.Tag))) return Refusal.Tag;
        return Refusal.None;
    }

    /// <summary>
    /// Whether this automation looks at a run event at all. RUN_STATE: a RUN_STATE automation whose state is the event's.
    /// RUN_METRIC: a metric automation whose metric the event logs. Then the run filter: user equal when set; run name
    /// regex found in the run's name when set (a run without a name does not match). Whether a metric condition holds
    /// needs the run's window (<see cref="MetricWindow"/>). Throws RegexMatchTimeoutException.
    /// </summary>
    public Refusal Check(RunEventReceived e)
    {
        if (Invalid is not null) return Refusal.Invalid;
        switch (e.EventType)
        {
            case RunEventTypes.RunState:
                if (EventType != RunEventTypes.RunState) return Refusal.EventType;
                if (!string.Equals(RunFilter!.State, e.State, StringComparison.Ordinal)) return Refusal.RunState;
                break;
            case RunEventTypes.RunMetric:
                if (Condition is not { } c) return Refusal.EventType;
                if (e.Metrics is not { } m || !m.ContainsKey(c.Metric)) return Refusal.Metric;
                break;
            default:
                return Refusal.EventType;
        }
        if (RunFilter!.User is { } user && !string.Equals(user, e.User, StringComparison.Ordinal)) return Refusal.User;
        if (_runName is not null && (e.RunName is null || !_runName.IsMatch(e.RunName))) return Refusal.RunName;
        return Refusal.None;
    }

    public bool Matches(ArtifactEventReceived e) => Check(e) == Refusal.None;

    public bool Watches(RunEventReceived e) => Check(e) == Refusal.None;

    /// <summary>The filter whose regex timed out (the exception names the pattern).</summary>
    public Refusal TimedOut(RegexMatchTimeoutException ex) =>
        _alias?.ToString() == ex.Pattern ? Refusal.Alias
        : _tag?.ToString() == ex.Pattern ? Refusal.Tag
        : Refusal.RunName;
}
