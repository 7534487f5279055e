using System.Globalization;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Runs;

namespace Automations.Core.Matching;

/// <summary>Why an automation did not fire: the field of the automation (as the Api names it) and a sentence a user understands.</summary>
public sealed record Refused(string Field, string Reason);

/// <summary>
/// Words for a <see cref="Refusal"/> of <see cref="AutomationTrigger"/>, and for a metric condition evaluated on a
/// window. Only words: the decision is the trigger's (and <see cref="MetricWindow"/>'s), so the two cannot drift.
/// </summary>
public static class TriggerExplanation
{
    public static Refused Explain(AutomationTrigger t, Refusal refusal, ArtifactEventReceived e) => refusal switch
    {
        Refusal.Collection => new("event.collection",
            $"the automation watches the collection {Q(t.Collection)}; the event is in {Q(e.Collection)} (an exact, case-sensitive name)"),
        Refusal.Alias => Pattern("event.aliasRegex", "alias", t.AliasRegex, e.Alias),
        Refusal.Tag => Pattern("event.tagRegex", "tag", t.TagRegex, e.Tag),
        _ => Common(t, refusal, e.EventType),
    };

    public static Refused Explain(AutomationTrigger t, Refusal refusal, RunEventReceived e) => refusal switch
    {
        Refusal.RunState => new("event.state", $"the automation fires when a run enters the state {Q(t.RunFilter?.State)}; the event reports {Q(e.State)}"),
        Refusal.Metric => new("event.metric.name",
            $"the automation watches the metric {Q(t.Condition?.Metric)}; the event logs {(e.Metrics is { Count: > 0 } m ? Names(m.Keys) : "no metric")}"),
        Refusal.User => new("event.user",
            $"the automation watches the runs of the user {Q(t.RunFilter?.User)}; the event's run is {(e.User is null ? "of no user" : "of " + Q(e.User))} (an exact name)"),
        Refusal.RunName => Pattern("event.runNameRegex", "run name", t.RunNameRegex, e.RunName),
        _ => Common(t, refusal, e.EventType),
    };

    /// <summary>A filter's regex that took longer than the match timeout: Rules does not fire the automation (and logs a warning).</summary>
    public static Refused TimedOut(Refusal filter, TimeSpan timeout)
    {
        var (field, what) = filter switch
        {
            Refusal.Alias => ("event.aliasRegex", "alias"),
            Refusal.Tag => ("event.tagRegex", "tag"),
            _ => ("event.runNameRegex", "run name"),
        };
        return new(field, $"the {what} regex took longer than {timeout.TotalMilliseconds:0} ms on the event's {what}, so the automation does not fire: simplify the pattern");
    }

    /// <summary>
    /// A team automation whose project regex is not found in the event's project: Rules never offers the event to it.
    /// </summary>
    public static Refused Project(string? pattern, string project) => Pattern("event.projectRegex", "project", pattern, project);

    /// <summary>A team automation's project regex that took longer than the match timeout: Rules does not fire it.</summary>
    public static Refused ProjectTimedOut(TimeSpan timeout) =>
        new("event.projectRegex", $"the project regex took longer than {timeout.TotalMilliseconds:0} ms on the event's project, so the automation does not fire: simplify the pattern");

    /// <summary>A team automation's stored project regex that does not compile: Rules never fires it.</summary>
    public static Refused ProjectInvalid(string problem) =>
        new("event.projectRegex", $"the automation never fires: its stored project regex is not usable ({problem}); save it again");

    private static Refused Common(AutomationTrigger t, Refusal refusal, string eventType) => refusal switch
    {
        Refusal.Invalid => new("event", $"the automation never fires: its stored filter is not usable ({t.Invalid}); save it again"),
        Refusal.EventType => new("event.type", $"the automation listens for {Listens(t.EventType)}; the event is {eventType}"),
        _ => throw new ArgumentOutOfRangeException(nameof(refusal), refusal, "not a refusal of this kind of event"),
    };

    private static string Listens(string type) => type switch
    {
        RunEventTypes.RunMetricThreshold or RunEventTypes.RunMetricChange => $"{type} (fed by {RunEventTypes.RunMetric} events)",
        _ => $"{type} events",
    };

    private static Refused Pattern(string field, string what, string? pattern, string? value) => value is null
        ? new(field, $"the {what} regex {Q(pattern)} has nothing to search: the event has no {what}")
        : new(field, $"the {what} regex {Q(pattern)} is not found in the event's {what} {Q(value)} (a search: ^…$ anchors it to the whole {what})");

    /// <summary>
    /// Why a metric condition that the event's metric reached did not fire, from what <see cref="MetricWindow.Observe"/>
    /// answered for the newest value; null when it fired. <paramref name="values"/>: how many values the window was given.
    /// </summary>
    public static Refused? ExplainMetric(MetricCondition c, MetricWindow.Outcome outcome, Evaluation? evaluation, int values)
    {
        if (outcome == MetricWindow.Outcome.Fired) return null;
        if (evaluation is null)
            return new("event.metric.window",
                $"the condition needs {c.Capacity} value(s) of {Q(c.Metric)} and was evaluated on {values}: it cannot hold yet (send earlier values in metricHistory)");
        if (evaluation.Holds)
            return new("event.metric", $"the condition already held at the value before this one: it fires once when it starts to hold, not while it keeps holding");
        return new("event.metric", c switch
        {
            MetricCondition.Threshold th =>
                $"{Of(c)} is {N(evaluation.Value)}, which is not {th.Cmp} {N(th.Value)}",
            MetricCondition.Change ch =>
                $"{Of(c)} went from {N(evaluation.PriorValue ?? 0)} to {N(evaluation.Value)}: {Change(ch, evaluation)}, not {Wanted(ch)}",
            _ => "the condition does not hold",
        });
    }

    private static string Of(MetricCondition c) => c.Agg == MetricAgg.Latest
        ? $"the latest value of {Q(c.Metric)}"
        : $"the {c.Agg.ToString().ToLowerInvariant()} of the last {c.Window} value(s) of {Q(c.Metric)}";

    private static string Change(MetricCondition.Change c, Evaluation e)
    {
        var prior = e.PriorValue ?? 0;
        if (c.Type == ChangeType.Absolute) return $"a change of {N(e.Value - prior)}";
        return prior == 0 ? "no relative change from 0" : $"a relative change of {N((e.Value - prior) / Math.Abs(prior))}";
    }

    private static string Wanted(MetricCondition.Change c)
    {
        var by = c.Type == ChangeType.Absolute ? N(c.Amount) : $"{N(c.Amount)} (relative)";
        return c.Direction switch
        {
            ChangeDir.Increase => $"an increase of at least {by}",
            ChangeDir.Decrease => $"a decrease of at least {by}",
            _ => $"a change either way of at least {by}",
        };
    }

    private static string N(double d) => d.ToString("G6", CultureInfo.InvariantCulture);

    private static string Q(string? s) => s is null ? "(none)" : JsonSerializer.Serialize(s, Quoted);

    private static readonly JsonSerializerOptions Quoted = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static string Names(IEnumerable<string> names)
    {
        var all = names.Order(StringComparer.Ordinal).ToList();
        var shown = string.Join(", ", all.Take(10).Select(Q));
        return all.Count > 10 ? $"{shown} and {all.Count - 10} more" : shown;
    }
}
