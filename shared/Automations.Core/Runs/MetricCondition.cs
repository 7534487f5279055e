namespace Automations.Core.Runs;

/// <summary>
/// A metric condition over the values a run logged for one metric, newest last. Pure: <see cref="MetricWindow"/> keeps
/// the values and decides when it fires.
/// </summary>
public abstract record MetricCondition(string Metric, MetricAgg Agg, int Window)
{
    /// <summary>How many of the newest values the condition needs (and the state keeps).</summary>
    public abstract int Capacity { get; }

    /// <summary>Whether it holds over <paramref name="values"/> (newest last, at most <see cref="Capacity"/>); null while there are too few.</summary>
    public abstract Evaluation? Evaluate(IReadOnlyList<double> values);

    /// <summary>
    /// <c>agg(last Window values) cmp threshold</c>; LATEST looks at the newest value only (W&amp;B ignores the window without an agg).
    /// </summary>
    public sealed record Threshold(string Metric, MetricAgg Agg, int Window, string Cmp, double Value) : MetricCondition(Metric, Agg, Window)
    {
        public override int Capacity => Agg == MetricAgg.Latest ? 1 : Window;

        public override Evaluation? Evaluate(IReadOnlyList<double> values)
        {
            if (values.Count < Capacity) return null;
            var current = Aggregate(Agg, values, values.Count - Capacity, Capacity);
            var holds = Cmp switch
            {
                "<" => current < Value,
                "<=" => current <= Value,
                ">" => current > Value,
                ">=" => current >= Value,
                _ => false,
            };
            return new Evaluation(holds, current, null);
        }
    }

    /// <summary>
    /// The change between two adjacent windows: <c>current = agg(the newest Window values)</c>,
    /// <c>prior = agg(the PriorWindow values before them)</c>; ABSOLUTE compares <c>current - prior</c>, RELATIVE
    /// <c>(current - prior) / |prior|</c> (never holds when prior is 0), with the amount: INCREASE needs
    /// <c>change &gt;= amount</c>, DECREASE <c>-change &gt;= amount</c>, ANY <c>|change| &gt;= amount</c>. Evaluated at every
    /// new value once both windows are full (windows slide one value at a time).
    /// </summary>
    public sealed record Change(string Metric, MetricAgg Agg, int Window, int PriorWindow, ChangeType Type, ChangeDir Direction, double Amount)
        : MetricCondition(Metric, Agg, Window)
    {
        private int Current => Agg == MetricAgg.Latest ? 1 : Window;
        private int Prior => Agg == MetricAgg.Latest ? 1 : PriorWindow;

        public override int Capacity => Current + Prior;

        public override Evaluation? Evaluate(IReadOnlyList<double> values)
        {
            if (values.Count < Capacity) return null;
            var start = values.Count - Capacity;
            var prior = Aggregate(Agg, values, start, Prior);
            var current = Aggregate(Agg, values, start + Prior, Current);
            double? change = Type == ChangeType.Absolute ? current - prior : prior == 0 ? null : (double?)((current - prior) / Math.Abs(prior));
            var holds = change is { } c && Direction switch
            {
                ChangeDir.Increase => c >= Amount,
                ChangeDir.Decrease => -c >= Amount,
                _ => Math.Abs(c) >= Amount,
            };
            return new Evaluation(holds, current, prior);
        }
    }

    /// <summary>LATEST over a window is its newest value.</summary>
    public static double Aggregate(MetricAgg agg, IReadOnlyList<double> values, int start, int count)
    {
        switch (agg)
        {
            case MetricAgg.Latest: return values[start + count - 1];
            case MetricAgg.Min: { var m = double.MaxValue; for (var i = start; i < start + count; i++) m = Math.Min(m, values[i]); return m; }
            case MetricAgg.Max: { var m = double.MinValue; for (var i = start; i < start + count; i++) m = Math.Max(m, values[i]); return m; }
            default:
            {
                var s = 0.0;
                for (var i = start; i < start + count; i++) s += values[i];
                if (double.IsFinite(s)) return s / count;
                // Values near ±1.8e308 (a finite double is a legal metric value) overflow their sum, never their mean.
                s = 0.0;
                for (var i = start; i < start + count; i++) s += values[i] / count;
                return s;
            }
        }
    }
}

/// <summary>One evaluation: whether the condition holds, the current (aggregated) value, and the prior window's for a change.</summary>
public sealed record Evaluation(bool Holds, double Value, double? PriorValue);

/// <summary>
/// The per (automation, run, metric) state: the newest values with their steps, in step order (at most the condition's
/// capacity), and whether the condition held at the last evaluation (<see cref="Active"/>): it fires on the value that
/// makes it start to hold, not while it keeps holding, and may fire again after it stopped holding.
/// </summary>
/// <remarks>
/// A value arriving late (a step below the newest, say after a redelivery overtook it) takes its place in step order
/// when it still falls inside the window; a step already taken, or older than a full window, changes nothing. So
/// replaying a value is always harmless, and the window always holds the newest steps the run logged.
/// </remarks>
public sealed record MetricWindow(IReadOnlyList<long> Steps, IReadOnlyList<double> Values, bool Active)
{
    public static readonly MetricWindow Empty = new([], [], false);

    public enum Outcome
    {
        /// <summary>A step already taken, or older than a full window: the state is unchanged.</summary>
        Stale,
        /// <summary>Taken; the condition did not start to hold.</summary>
        Quiet,
        /// <summary>Taken; the condition started to hold with this value: fire.</summary>
        Fired,
    }

    /// <summary>
    /// A run's values replayed into an empty window: <paramref name="earlier"/> (oldest first, logged at the steps just
    /// before <paramref name="step"/>), then <paramref name="value"/>; what observing that last one answers. For a preview,
    /// which has no stored window.
    /// </summary>
    public static (Outcome Outcome, Evaluation? Evaluation) Replay(MetricCondition condition, IReadOnlyList<double> earlier, long step, double value)
    {
        var window = Empty;
        for (var i = 0; i < earlier.Count; i++) window = window.Observe(condition, step - earlier.Count + i, earlier[i]).Next;
        var (_, outcome, evaluation) = window.Observe(condition, step, value);
        return (outcome, evaluation);
    }

    public (MetricWindow Next, Outcome Outcome, Evaluation? Evaluation) Observe(MetricCondition condition, long step, double value)
    {
        var capacity = condition.Capacity;
        var at = 0;
        while (at < Steps.Count && Steps[at] < step) at++;
        if (at < Steps.Count && Steps[at] == step) return (this, Outcome.Stale, null);
        if (at == 0 && Steps.Count >= capacity) return (this, Outcome.Stale, null);
        var steps = Steps.ToList();
        var values = Values.ToList();
        steps.Insert(at, step);
        values.Insert(at, value);
        var drop = Math.Max(0, steps.Count - capacity);
        steps.RemoveRange(0, drop);
        values.RemoveRange(0, drop);
        var evaluation = condition.Evaluate(values);
        // Too few values yet: nothing is known, so nothing changes the crossing state.
        var holds = evaluation?.Holds ?? Active;
        var fired = evaluation is { Holds: true } && !Active;
        return (new MetricWindow(steps, values, holds), fired ? Outcome.Fired : Outcome.Quiet, evaluation);
    }
}
