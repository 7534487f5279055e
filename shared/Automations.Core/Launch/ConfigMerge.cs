using System.Text.Json;
using System.Text.Json.Nodes;

namespace Automations.Core.Launch;

/// <summary>
/// The run config of a Launch job: the job version's default config deep-merged with the automation's overrides.
/// Objects merge key by key (recursively); anything else in the overrides (scalars, arrays, null) replaces the default.
/// </summary>
public static class ConfigMerge
{
    /// <summary>Merges two JSON texts; an empty or missing text counts as an empty object.</summary>
    /// <exception cref="JsonException">When either text is not JSON.</exception>
    public static string Merge(string? defaultConfigJson, string? overridesJson)
    {
        var defaults = Parse(defaultConfigJson);
        var overrides = Parse(overridesJson);
        return (Merge(defaults, overrides) ?? new JsonObject()).ToJsonString();
    }

    public static JsonNode? Merge(JsonNode? defaults, JsonNode? overrides)
    {
        if (overrides is null) return defaults?.DeepClone();
        if (defaults is JsonObject d && overrides is JsonObject o)
        {
            var result = d.DeepClone().AsObject();
            foreach (var (key, value) in o)
                result[key] = result.TryGetPropertyValue(key, out var existing) && existing is JsonObject && value is JsonObject
                    ? Merge(existing, value)
                    : value?.DeepClone();
            return result;
        }
        return overrides.DeepClone();
    }

    private static JsonNode? Parse(string? json) =>
        string.IsNullOrWhiteSpace(json) ? new JsonObject() : JsonNode.Parse(json) ?? new JsonObject();
}
