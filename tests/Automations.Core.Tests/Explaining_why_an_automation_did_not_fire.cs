using System.Text.RegularExpressions;
using Automations.Contracts;
using Automations.Core.Matching;
using Automations.Core.Runs;

namespace Automations.Core.Tests;

/// <summary>
/// The trigger Rules matches with and the preview explains with: each filter refusing an event, with the field it names
/// and words that quote both sides; and a metric condition evaluated on a sample and its history.
/// </summary>
public class Explaining_why_an_automation_did_not_fire
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(100);

    private static ArtifactEventReceived Artifact(string type = EventTypes.AddArtifactAlias, string collection = "eval-set", string? alias = "production", string? tag = null) =>
        new(Guid.NewGuid(), "e-1", type, "acme", "mnist", collection, "QXJ0", 3, alias, tag, "jane", DateTimeOffset.UnixEpoch, null, DateTimeOffset.UnixEpoch);

    private static RunEventReceived Run(string type = RunEventTypes.RunState, string? state = "finished", string? user = "jane", string? runName = "sweep-7",
        Dictionary<string, double>? metrics = null) =>
        new(Guid.NewGuid(), "r-1", type, "acme", "mnist", "run1", runName, user, null, type == RunEventTypes.RunState ? state : null,
            type == RunEventTypes.RunMetric ? 10 : null, type == RunEventTypes.RunMetric ? metrics ?? new() { ["val_loss"] = 0.2 } : null,
            DateTimeOffset.UnixEpoch, DateTimeOffset.UnixEpoch);

    private static AutomationTrigger Artifacts(string type, string? collection = null, string? alias = null, string? tag = null) => new(type, collection, alias, tag, null, Timeout);

    private static AutomationTrigger Runs(string type, string? state = null, string? user = null, string? runName = null, string? metric = null) =>
        new(type, null, null, null, new RunFilter
        {
            State = state, User = user, RunNameRegex = runName,
            Metric = metric is null ? null
                : type == RunEventTypes.RunMetricThreshold ? new MetricFilter { Name = metric, Cmp = "<", Threshold = 0.3 }
                : new MetricFilter { Name = metric, ChangeType = "ABSOLUTE", ChangeDir = "DECREASE", ChangeAmount = 0.1 },
        }.ToJson(), Timeout);

    public static TheoryData<string, AutomationTrigger, ArtifactEventReceived, Refusal, string?, string?> ArtifactCases => new()
    {
        { "every filter passes", Artifacts(EventTypes.AddArtifactAlias, alias: "^prod"), Artifact(), Refusal.None, null, null },
        { "another event type", Artifacts(EventTypes.CreateArtifact, "eval-set"), Artifact(), Refusal.EventType, "event.type", "listens for CREATE_ARTIFACT events; the event is ADD_ARTIFACT_ALIAS" },
        { "another collection", Artifacts(EventTypes.CreateArtifact, "eval-set"), Artifact(EventTypes.CreateArtifact, "train-set", alias: null), Refusal.Collection, "event.collection", "watches the collection \"eval-set\"; the event is in \"train-set\"" },
        { "a collection differing in case", Artifacts(EventTypes.CreateArtifact, "eval-set"), Artifact(EventTypes.CreateArtifact, "Eval-Set", alias: null), Refusal.Collection, "event.collection", "case-sensitive" },
        { "an alias the regex is not found in", Artifacts(EventTypes.AddArtifactAlias, alias: "^prod$"), Artifact(alias: "production"), Refusal.Alias, "event.aliasRegex", "\"^prod$\" is not found in the event's alias \"production\"" },
        { "no alias to search", Artifacts(EventTypes.CreateArtifact, alias: "prod"), Artifact(EventTypes.CreateArtifact, alias: null), Refusal.Alias, "event.aliasRegex", "the event has no alias" },
        { "a tag the regex is not found in", Artifacts(EventTypes.AddArtifactAlias, tag: "nightly"), Artifact(tag: "weekly"), Refusal.Tag, "event.tagRegex", "not found in the event's tag \"weekly\"" },
        { "no tag to search", Artifacts(EventTypes.AddArtifactAlias, tag: "nightly"), Artifact(), Refusal.Tag, "event.tagRegex", "the event has no tag" },
        { "a run automation", Runs(RunEventTypes.RunState, state: "finished"), Artifact(), Refusal.EventType, "event.type", "listens for RUN_STATE events" },
        { "a stored regex that does not compile", Artifacts(EventTypes.AddArtifactAlias, alias: "(prod"), Artifact(), Refusal.Invalid, "event", "never fires" },
    };

    [Theory]
    [MemberData(nameof(ArtifactCases))]
    public void Should_name_the_filter_that_refused_an_artifact_event(string because, AutomationTrigger trigger, ArtifactEventReceived e, Refusal expected, string? field, string? words)
    {
        var refusal = trigger.Check(e);
        Assert.True(expected == refusal, $"{because}: expected {expected}, got {refusal}");
        Assert.Equal(refusal == Refusal.None, trigger.Matches(e));
        if (refusal == Refusal.None) return;
        var why = TriggerExplanation.Explain(trigger, refusal, e);
        Assert.Equal(field, why.Field);
        Assert.Contains(words!, why.Reason, StringComparison.Ordinal);
    }

    public static TheoryData<string, AutomationTrigger, RunEventReceived, Refusal, string?, string?> RunCases => new()
    {
        { "a run entering the state", Runs(RunEventTypes.RunState, state: "finished", user: "jane", runName: "^sweep-"), Run(), Refusal.None, null, null },
        { "a metric the run logs", Runs(RunEventTypes.RunMetricThreshold, metric: "val_loss"), Run(RunEventTypes.RunMetric), Refusal.None, null, null },
        { "another state", Runs(RunEventTypes.RunState, state: "failed"), Run(state: "finished"), Refusal.RunState, "event.state", "enters the state \"failed\"; the event reports \"finished\"" },
        { "a metric event for a state automation", Runs(RunEventTypes.RunState, state: "failed"), Run(RunEventTypes.RunMetric), Refusal.EventType, "event.type", "the event is RUN_METRIC" },
        { "a state event for a metric automation", Runs(RunEventTypes.RunMetricThreshold, metric: "val_loss"), Run(), Refusal.EventType, "event.type", "RUN_METRIC_THRESHOLD (fed by RUN_METRIC events)" },
        { "a run event for an artifact automation", Artifacts(EventTypes.CreateArtifact, "eval-set"), Run(), Refusal.EventType, "event.type", "listens for CREATE_ARTIFACT events" },
        { "another metric", Runs(RunEventTypes.RunMetricChange, metric: "val_loss"), Run(RunEventTypes.RunMetric, metrics: new() { ["loss"] = 1, ["acc"] = 0.5 }), Refusal.Metric, "event.metric.name", "watches the metric \"val_loss\"; the event logs \"acc\", \"loss\"" },
        { "another user", Runs(RunEventTypes.RunState, state: "finished", user: "bob"), Run(), Refusal.User, "event.user", "runs of the user \"bob\"; the event's run is of \"jane\"" },
        { "no user", Runs(RunEventTypes.RunState, state: "finished", user: "bob"), Run(user: null), Refusal.User, "event.user", "of no user" },
        { "a run name the regex is not found in", Runs(RunEventTypes.RunMetricThreshold, runName: "^sweep-", metric: "val_loss"), Run(RunEventTypes.RunMetric, runName: "baseline"), Refusal.RunName, "event.runNameRegex", "not found in the event's run name \"baseline\"" },
        { "a run without a name", Runs(RunEventTypes.RunState, state: "finished", runName: "sweep"), Run(runName: null), Refusal.RunName, "event.runNameRegex", "the event has no run name" },
    };

    [Theory]
    [MemberData(nameof(RunCases))]
    public void Should_name_the_filter_that_refused_a_run_event(string because, AutomationTrigger trigger, RunEventReceived e, Refusal expected, string? field, string? words)
    {
        var refusal = trigger.Check(e);
        Assert.True(expected == refusal, $"{because}: expected {expected}, got {refusal}");
        Assert.Equal(refusal == Refusal.None, trigger.Watches(e));
        if (refusal == Refusal.None) return;
        var why = TriggerExplanation.Explain(trigger, refusal, e);
        Assert.Equal(field, why.Field);
        Assert.Contains(words!, why.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_name_the_regex_that_timed_out()
    {
        var trigger = new AutomationTrigger(EventTypes.AddArtifactAlias, null, "prod", @"^(\w+\s?)*$", null, TimeSpan.FromMilliseconds(1));
        var ex = Assert.ThrowsAny<RegexMatchTimeoutException>(() => trigger.Check(Artifact(tag: new string('a', 64) + "!")));
        Assert.Equal(Refusal.Tag, trigger.TimedOut(ex));
        Assert.Equal("event.tagRegex", TriggerExplanation.TimedOut(Refusal.Tag, TimeSpan.FromMilliseconds(1)).Field);
    }

    [Fact]
    public void Should_name_a_team_automations_project_regex()
    {
        var notFound = TriggerExplanation.Project("^prod-", "mnist");
        Assert.Equal("event.projectRegex", notFound.Field);
        Assert.Contains("the project regex \"^prod-\" is not found in the event's project \"mnist\"", notFound.Reason, StringComparison.Ordinal);
        Assert.Equal("event.projectRegex", TriggerExplanation.ProjectTimedOut(Timeout).Field);
        Assert.Contains("100 ms", TriggerExplanation.ProjectTimedOut(Timeout).Reason, StringComparison.Ordinal);
        Assert.Equal("event.projectRegex", TriggerExplanation.ProjectInvalid("Not enough )'s.").Field);
    }

    private static MetricCondition Threshold(MetricAgg agg, int window) => new MetricCondition.Threshold("val_loss", agg, window, "<", 0.3);

    public static TheoryData<string, MetricCondition, double[], double, string?, string?> MetricCases => new()
    {
        { "one value past the threshold", Threshold(MetricAgg.Latest, 1), [], 0.2, null, null },
        { "one value short of it", Threshold(MetricAgg.Latest, 1), [], 0.5, "event.metric", "the latest value of \"val_loss\" is 0.5, which is not < 0.3" },
        { "a window without its history", Threshold(MetricAgg.Average, 3), [], 0.1, "event.metric.window", "needs 3 value(s) of \"val_loss\" and was evaluated on 1" },
        { "a window with its history", Threshold(MetricAgg.Average, 3), [0.2, 0.25], 0.1, null, null },
        { "an average short of it", Threshold(MetricAgg.Average, 3), [0.9, 0.5], 0.1, "event.metric", "the average of the last 3 value(s) of \"val_loss\" is 0.5" },
        { "a condition that already held", Threshold(MetricAgg.Latest, 1), [0.25], 0.2, "event.metric", "already held at the value before this one" },
        { "a change too small", new MetricCondition.Change("val_loss", MetricAgg.Latest, 1, 1, ChangeType.Absolute, ChangeDir.Decrease, 0.1), [1.0], 0.95, "event.metric",
            "went from 1 to 0.95: a change of -0.05, not a decrease of at least 0.1" },
        { "a change large enough", new MetricCondition.Change("val_loss", MetricAgg.Latest, 1, 1, ChangeType.Absolute, ChangeDir.Decrease, 0.1), [1.0], 0.8, null, null },
        { "a relative change from zero", new MetricCondition.Change("val_loss", MetricAgg.Latest, 1, 1, ChangeType.Relative, ChangeDir.Any, 0.1), [0], 5, "event.metric", "no relative change from 0" },
    };

    [Theory]
    [MemberData(nameof(MetricCases))]
    public void Should_explain_a_metric_condition_on_a_sample_and_its_history(string because, MetricCondition condition, double[] history, double value, string? field, string? words)
    {
        var (outcome, evaluation) = MetricWindow.Replay(condition, history, 10, value);
        var why = TriggerExplanation.ExplainMetric(condition, outcome, evaluation, history.Length + 1);
        Assert.True(field == why?.Field, $"{because}: expected {field ?? "a match"}, got {why?.Field ?? "a match"}: {why?.Reason}");
        if (why is not null) Assert.Contains(words!, why.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Should_replay_a_history_as_the_run_logged_it()
    {
        // The same crossings as values fed one at a time: fired on the value that starts to hold, not after.
        var c = Threshold(MetricAgg.Latest, 1);
        Assert.Equal(MetricWindow.Outcome.Fired, MetricWindow.Replay(c, [0.5, 0.4], 3, 0.2).Outcome);
        Assert.Equal(MetricWindow.Outcome.Quiet, MetricWindow.Replay(c, [0.5, 0.2], 3, 0.1).Outcome);
        Assert.Equal(MetricWindow.Outcome.Fired, MetricWindow.Replay(c, [0.2, 0.5], 1, 0.1).Outcome);
    }
}
