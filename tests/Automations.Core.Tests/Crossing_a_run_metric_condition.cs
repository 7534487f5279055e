using Automations.Core.Runs;

namespace Automations.Core.Tests;

/// <summary>The pure window logic of run metric automations: aggregates, windows, and firing once per crossing.</summary>
public class Crossing_a_run_metric_condition
{
    private static MetricCondition Threshold(MetricAgg agg, int window, string cmp, double value) =>
        new MetricCondition.Threshold("loss", agg, window, cmp, value);

    private static MetricCondition Change(MetricAgg agg, int window, int prior, ChangeType type, ChangeDir dir, double amount) =>
        new MetricCondition.Change("loss", agg, window, prior, type, dir, amount);

    /// <summary>Feeds values at steps 1, 2, 3... and answers, per value, '.' (quiet) or 'F' (fired).</summary>
    private static string Run(MetricCondition condition, params double[] values)
    {
        var window = MetricWindow.Empty;
        var marks = "";
        for (var i = 0; i < values.Length; i++)
        {
            (window, var outcome, _) = window.Observe(condition, i + 1, values[i]);
            marks += outcome == MetricWindow.Outcome.Fired ? "F" : ".";
        }
        return marks;
    }

    public static TheoryData<string, MetricCondition, double[], string> Cases => new()
    {
        // latest > 0.9: fires when it first goes above, not while it stays, again after falling back.
        { "latest, stays above", Threshold(MetricAgg.Latest, 1, ">", 0.9), [0.5, 0.95, 0.97, 0.99], ".F.." },
        { "latest, falls back and rises", Threshold(MetricAgg.Latest, 1, ">", 0.9), [0.95, 0.8, 0.92, 0.93], "F.F." },
        { "latest, equal is not >", Threshold(MetricAgg.Latest, 1, ">", 0.9), [0.9, 0.9], ".." },
        { "latest, equal is >=", Threshold(MetricAgg.Latest, 1, ">=", 0.9), [0.9, 0.9], "F." },
        { "latest ignores the window", Threshold(MetricAgg.Latest, 5, "<", 1), [0.5], "F" },
        { "<= crossing down", Threshold(MetricAgg.Latest, 1, "<=", 0.2), [0.5, 0.3, 0.2, 0.1, 0.3, 0.15], "..F..F" },
        // average of the last 3: not evaluated before 3 values exist.
        { "average of 3", Threshold(MetricAgg.Average, 3, "<", 0.3), [0.1, 0.1, 0.1, 0.2, 0.9, 0.1], "..F..." },
        { "min of 2", Threshold(MetricAgg.Min, 2, ">", 0.5), [0.6, 0.4, 0.7, 0.8, 0.9], "...F." },
        { "max of 2", Threshold(MetricAgg.Max, 2, "<", 0.5), [0.6, 0.4, 0.3, 0.6, 0.2, 0.1], "..F..F" },
        // change: prior window then current window, both full before anything is evaluated.
        { "absolute decrease, latest", Change(MetricAgg.Latest, 1, 1, ChangeType.Absolute, ChangeDir.Decrease, 0.1), [1.0, 0.95, 0.8, 0.7, 0.7, 0.5], "..F..F" },
        { "absolute increase ignores decrease", Change(MetricAgg.Latest, 1, 1, ChangeType.Absolute, ChangeDir.Increase, 0.1), [1.0, 0.5, 0.7], "..F" },
        { "any direction", Change(MetricAgg.Latest, 1, 1, ChangeType.Absolute, ChangeDir.Any, 0.5), [1, 2, 2, 1], ".F.F" },
        { "relative 50% on averages of 2", Change(MetricAgg.Average, 2, 2, ChangeType.Relative, ChangeDir.Increase, 0.5), [1, 1, 1, 2, 2, 2], "...F.." },
        { "relative with a zero prior never holds", Change(MetricAgg.Latest, 1, 1, ChangeType.Relative, ChangeDir.Any, 0.1), [0, 5], ".." },
        { "prior window 3, current 1", Change(MetricAgg.Average, 1, 3, ChangeType.Absolute, ChangeDir.Increase, 1), [1, 1, 1, 2, 3], "...F." },
        // The largest doubles: their sum overflows, their average does not (1.7e308 is not above 1.75e308).
        { "average of the largest doubles", Threshold(MetricAgg.Average, 2, ">", 1.75e308), [1.7e308, 1.7e308], ".." },
        { "average of the most negative doubles", Threshold(MetricAgg.Average, 2, "<", -1.75e308), [-1.7e308, -1.7e308], ".." },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Should_fire_once_per_crossing(string because, MetricCondition condition, double[] values, string expected)
    {
        Assert.True(expected == Run(condition, values), $"{because}: expected {expected}, got {Run(condition, values)}");
    }

    [Fact]
    public void Should_ignore_a_step_already_taken()
    {
        var c = Threshold(MetricAgg.Latest, 1, ">", 0.9);
        var (w, o1, _) = MetricWindow.Empty.Observe(c, 10, 0.95);
        Assert.Equal(MetricWindow.Outcome.Fired, o1);
        var (again, o2, _) = w.Observe(c, 10, 0.95);
        Assert.Equal(MetricWindow.Outcome.Stale, o2);
        Assert.Same(w, again);
        // Older than a full window (capacity 1): nothing to change.
        var (_, o3, _) = w.Observe(c, 9, 0.1);
        Assert.Equal(MetricWindow.Outcome.Stale, o3);
    }

    public static TheoryData<string, long[], double[], string> LateValues => new()
    {
        // average of 3 < 0.3; steps arrive out of order, each value lands in step order.
        { "in order", [1, 2, 3], [0.1, 0.1, 0.1], "..F" },
        { "the middle step late", [1, 3, 2], [0.1, 0.1, 0.1], "..F" },
        { "a replay of a step in between", [1, 2, 3, 2], [0.1, 0.1, 0.1, 0.9], "..FS" },
        { "a step older than a full window", [5, 6, 7, 1], [0.1, 0.1, 0.1, 0.9], "..FS" },
        { "a late step inside the window counts", [1, 2, 4, 3], [0.9, 0.9, 0.1, 0.1], "...." },
    };

    [Theory]
    [MemberData(nameof(LateValues))]
    public void Should_place_a_late_value_in_step_order(string because, long[] steps, double[] values, string expected)
    {
        var c = Threshold(MetricAgg.Average, 3, "<", 0.3);
        var w = MetricWindow.Empty;
        var marks = "";
        for (var i = 0; i < steps.Length; i++)
        {
            (w, var outcome, _) = w.Observe(c, steps[i], values[i]);
            marks += outcome switch { MetricWindow.Outcome.Fired => "F", MetricWindow.Outcome.Stale => "S", _ => "." };
        }
        Assert.True(expected == marks, $"{because}: expected {expected}, got {marks}");
        Assert.Equal(w.Steps.Order().ToArray(), w.Steps.ToArray());
    }

    [Theory]
    [InlineData(MetricAgg.Latest, 7, 1)]
    [InlineData(MetricAgg.Average, 7, 7)]
    public void Should_keep_no_more_values_than_the_condition_needs(MetricAgg agg, int window, int kept)
    {
        var c = Threshold(agg, window, ">", 100);
        var w = MetricWindow.Empty;
        for (var i = 1; i <= 50; i++) (w, _, _) = w.Observe(c, i, i);
        Assert.Equal(kept, w.Values.Count);
        Assert.Equal(50, w.Values[^1]);
        var change = Change(MetricAgg.Average, 4, 6, ChangeType.Absolute, ChangeDir.Any, 1000);
        w = MetricWindow.Empty;
        for (var i = 1; i <= 50; i++) (w, _, _) = w.Observe(change, i, i);
        Assert.Equal(10, w.Values.Count);
    }

    [Fact]
    public void Should_average_the_largest_doubles_to_a_finite_value()
    {
        var (_, _, evaluation) = MetricWindow.Empty.Observe(Threshold(MetricAgg.Average, 1, ">", 0), 1, double.MaxValue);
        var values = new[] { double.MaxValue, double.MaxValue, 1e308 };
        Assert.Equal(double.MaxValue, MetricCondition.Aggregate(MetricAgg.Average, values, 0, 2));
        Assert.Equal((double.MaxValue / 2) + 5e307, MetricCondition.Aggregate(MetricAgg.Average, values, 1, 2), 1e294);
        Assert.Equal(double.MaxValue, evaluation!.Value);
    }

    [Fact]
    public void Should_report_the_aggregated_and_prior_values()
    {
        var c = Change(MetricAgg.Average, 2, 2, ChangeType.Absolute, ChangeDir.Decrease, 0.2);
        var w = MetricWindow.Empty;
        Evaluation? last = null;
        foreach (var (step, v) in new[] { (1L, 1.0), (2L, 0.8), (3L, 0.5), (4L, 0.3) })
            (w, _, last) = w.Observe(c, step, v);
        Assert.Equal(0.4, last!.Value, 10);
        Assert.Equal(0.9, last.PriorValue!.Value, 10);
        Assert.True(last.Holds);
    }

    public static TheoryData<string, string, string> InvalidFilters => new()
    {
        { "RUN_STATE", """{}""", "event.state" },
        { "RUN_STATE", """{"state":"paused"}""", "event.state" },
        { "RUN_METRIC_THRESHOLD", """{}""", "event.metric" },
        { "RUN_METRIC_THRESHOLD", """{"metric":{"name":"loss","threshold":1}}""", "event.metric.cmp" },
        { "RUN_METRIC_THRESHOLD", """{"metric":{"name":"loss","cmp":"<"}}""", "event.metric.threshold" },
        { "RUN_METRIC_THRESHOLD", """{"metric":{"name":"loss","cmp":"<","threshold":1,"agg":"MEDIAN"}}""", "event.metric.agg" },
        { "RUN_METRIC_THRESHOLD", """{"metric":{"name":"loss","cmp":"<","threshold":1,"window":0}}""", "event.metric.window" },
        { "RUN_METRIC_THRESHOLD", """{"metric":{"name":"loss","cmp":"<","threshold":1,"window":101}}""", "event.metric.window" },
        { "RUN_METRIC_THRESHOLD", """{"metric":{"cmp":"<","threshold":1}}""", "event.metric.name" },
        { "RUN_METRIC_CHANGE", """{"metric":{"name":"loss","changeType":"ABSOLUTE","changeAmount":0}}""", "event.metric.changeAmount" },
        { "RUN_METRIC_CHANGE", """{"metric":{"name":"loss","changeAmount":1}}""", "event.metric.changeType" },
        { "RUN_METRIC_CHANGE", """{"metric":{"name":"loss","changeType":"ABSOLUTE","changeAmount":1,"changeDir":"UP"}}""", "event.metric.changeDir" },
        { "RUN_METRIC_CHANGE", """{"metric":{"name":"loss","changeType":"ABSOLUTE","changeAmount":1,"threshold":2}}""", "event.metric.threshold" },
    };

    [Theory]
    [MemberData(nameof(InvalidFilters))]
    public void Should_refuse_an_unusable_filter_naming_the_field(string eventType, string json, string field)
    {
        var filter = RunFilter.FromJson(json)!;
        Assert.Contains(filter.Check(eventType), e => e.Field == field);
    }

    [Fact]
    public void Should_read_WandB_operator_names()
    {
        var filter = RunFilter.FromJson("""{"metric":{"name":"loss","agg":"avg","window":5,"cmp":"$gte","threshold":0.5}}""")!;
        Assert.Empty(filter.Check("RUN_METRIC_THRESHOLD"));
        var c = Assert.IsType<MetricCondition.Threshold>(filter.Condition("RUN_METRIC_THRESHOLD"));
        Assert.Equal((MetricAgg.Average, 5, ">=", 0.5), (c.Agg, c.Window, c.Cmp, c.Value));
    }
}
