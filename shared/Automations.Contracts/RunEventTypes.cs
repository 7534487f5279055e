namespace Automations.Contracts;

/// <summary>
/// Run events, named as in W&amp;B. Producers send <see cref="RunState"/> and <see cref="RunMetric"/>; automations trigger
/// on <see cref="RunState"/>, <see cref="RunMetricThreshold"/> and <see cref="RunMetricChange"/> (W&amp;B's EventType names).
/// </summary>
public static class RunEventTypes
{
    public const string RunState = "RUN_STATE";
    public const string RunMetric = "RUN_METRIC";

    public const string RunMetricThreshold = "RUN_METRIC_THRESHOLD";
    public const string RunMetricChange = "RUN_METRIC_CHANGE";

    /// <summary>What a producer may send.</summary>
    public static readonly IReadOnlyList<string> Produced = [RunState, RunMetric];

    /// <summary>What an automation may trigger on.</summary>
    public static readonly IReadOnlyList<string> Triggers = [RunState, RunMetricThreshold, RunMetricChange];

    public static bool IsProduced(string? type) => type is RunState or RunMetric;

    public static bool IsTrigger(string? type) => type is RunState or RunMetricThreshold or RunMetricChange;

    /// <summary>The states a run reports (W&amp;B's run states, lower case as the SDK writes them).</summary>
    public static readonly IReadOnlyList<string> States = ["running", "finished", "failed", "crashed"];
}
