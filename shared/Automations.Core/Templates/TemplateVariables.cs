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

    private static readonly HashSet<string> Known = [.. Names];

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
            if (!name.StartsWith(MetadataPrefix, StringComparison.Ordinal)) return null; // a secret name: left for the sender
            metadata ??= ParseMetadata(e.MetadataJson);
            return metadata.TryGetValue(name[MetadataPrefix.Length..], out var m) ? m : "";
        };
    }

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
