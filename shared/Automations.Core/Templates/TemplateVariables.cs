using System.Globalization;
using System.Text.Json;
using Automations.Contracts;

namespace Automations.Core.Templates;

/// <summary>The `${name}` variables an artifact event offers a payload template (W&amp;B names).</summary>
public static class TemplateVariables
{
    public const string MetadataPrefix = "artifact_metadata.";

    public static readonly IReadOnlyList<string> Names =
    [
        "event_type", "event_author", "artifact_version", "artifact_version_string", "artifact_collection_name",
        "artifact_version_index", "alias", "tag", "project_name", "entity_name", "automation_name",
    ];

    /// <summary>The variables of run automations (RUN_STATE, RUN_METRIC_THRESHOLD, RUN_METRIC_CHANGE), beside the shared ones.</summary>
    public static readonly IReadOnlyList<string> RunNames =
    [
        "run_id", "run_name", "run_state", "run_user", "run_tags", "run_url", "run_step",
        "metric_name", "metric_value", "metric_threshold", "metric_prior_value", "metric_agg", "metric_window",
    ];

    private static readonly HashSet<string> Known = [.. Names, .. RunNames];
    private static readonly HashSet<string> RunNameSet = [.. RunNames];

    public static bool IsKnown(string name) =>
        Known.Contains(name) || (name.StartsWith(MetadataPrefix, StringComparison.Ordinal) && name.Length > MetadataPrefix.Length);

    /// <summary>
    /// The values for one event and automation. Names that do not apply render empty (a CREATE event has no alias);
    /// `artifact_metadata.KEY` takes the top-level key's value (strings as they are, anything else as JSON text).
    /// </summary>
    public static Func<string, string?> For(ArtifactEventReceived e, string automationName)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["event_type"] = e.EventType,
            ["event_author"] = e.Author ?? "",
            ["artifact_version"] = e.VersionId is null ? "" : $"wandb-artifact://_id/{e.VersionId}",
            ["artifact_version_string"] = $"{e.Entity}/{e.Project}/{e.Collection}:{VersionLabel(e)}",
            ["artifact_collection_name"] = e.Collection,
            ["artifact_version_index"] = e.VersionIndex?.ToString(CultureInfo.InvariantCulture) ?? "",
            ["alias"] = e.Alias ?? "",
            ["tag"] = e.Tag ?? "",
            ["project_name"] = e.Project,
            ["entity_name"] = e.Entity,
            ["automation_name"] = automationName,
        };
        Dictionary<string, string>? metadata = null;
        return name =>
        {
            if (values.TryGetValue(name, out var v)) return v;
            if (RunNameSet.Contains(name)) return "";
            if (!name.StartsWith(MetadataPrefix, StringComparison.Ordinal)) return null; // a secret name: left for the sender
            metadata ??= ParseMetadata(e.MetadataJson);
            return metadata.TryGetValue(name[MetadataPrefix.Length..], out var m) ? m : "";
        };
    }

    /// <summary>
    /// The values for one run event and automation. The artifact names render empty; <c>event_author</c> is the run's
    /// user. <paramref name="metric"/> is what fired a metric automation (null for RUN_STATE: the metric names render empty).
    /// </summary>
    public static Func<string, string?> For(RunEventReceived e, string automationName, string? runUrlBase, MetricFired? metric)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["event_type"] = e.EventType,
            ["event_author"] = e.User ?? "",
            ["project_name"] = e.Project,
            ["entity_name"] = e.Entity,
            ["automation_name"] = automationName,
            ["run_id"] = e.RunId,
            ["run_name"] = e.RunName ?? "",
            ["run_state"] = e.State ?? "",
            ["run_user"] = e.User ?? "",
            ["run_tags"] = e.Tags is { Count: > 0 } tags ? string.Join(",", tags) : "",
            ["run_url"] = string.IsNullOrEmpty(runUrlBase) ? ""
                : $"{runUrlBase.TrimEnd('/')}/{Uri.EscapeDataString(e.Entity)}/{Uri.EscapeDataString(e.Project)}/runs/{Uri.EscapeDataString(e.RunId)}",
            ["run_step"] = e.Step?.ToString(CultureInfo.InvariantCulture) ?? "",
            ["metric_name"] = metric?.Name ?? "",
            ["metric_value"] = Number(metric?.Value),
            ["metric_threshold"] = Number(metric?.Threshold),
            ["metric_prior_value"] = Number(metric?.PriorValue),
            ["metric_agg"] = metric?.Agg ?? "",
            ["metric_window"] = metric?.Window.ToString(CultureInfo.InvariantCulture) ?? "",
        };
        // Secret names are left for the sender; every other known name renders empty (an artifact name on a run event).
        return name => values.TryGetValue(name, out var v) ? v : IsKnown(name) ? "" : null;
    }

    private static string Number(double? d) => d?.ToString("R", CultureInfo.InvariantCulture) ?? "";

    private static string VersionLabel(ArtifactEventReceived e) =>
        !string.IsNullOrEmpty(e.Alias) ? e.Alias : e.VersionIndex is { } i ? $"v{i.ToString(CultureInfo.InvariantCulture)}" : "latest";

    private static Dictionary<string, string> ParseMetadata(string? json)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        if (string.IsNullOrEmpty(json)) return result;
        using var doc = JsonDocument.Parse(json);
        if (doc.RootElement.ValueKind != JsonValueKind.Object) return result;
        foreach (var p in doc.RootElement.EnumerateObject())
            result[p.Name] = p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : p.Value.GetRawText();
        return result;
    }
}

/// <summary>What fired a metric automation, for its template: the metric, the (aggregated) value, the threshold or change amount.</summary>
public sealed record MetricFired(string Name, double Value, double Threshold, double? PriorValue, string Agg, int Window)
{
    /// <summary>What <paramref name="condition"/> fired with, from its <paramref name="evaluation"/>: a change's threshold is its amount.</summary>
    public static MetricFired For(Runs.MetricCondition condition, Runs.Evaluation evaluation)
    {
        var (threshold, agg) = condition switch
        {
            Runs.MetricCondition.Threshold t => (t.Value, t.Agg),
            Runs.MetricCondition.Change c => (c.Amount, c.Agg),
            _ => (0d, condition.Agg),
        };
        return new MetricFired(condition.Metric, evaluation.Value, threshold, evaluation.PriorValue, agg.ToString().ToUpperInvariant(), condition.Window);
    }
}
