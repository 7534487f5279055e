using System.Text.Json.Serialization;
using Automations.Api.Launch;
using Automations.Api.ProjectAutomations;
using Automations.Api.Webhooks;

namespace Automations.Api.TeamConfig;

/// <summary>
/// A team's configuration as a file (docs/automations-as-code.md; its JSON Schema is
/// shared/Automations.Contracts/schemas/team-config.schema.json). Every object is named, and the name is its identity:
/// a renamed object is another object (the old one is left alone, or deleted with prune). Secret values are never in it:
/// webhooks name their secrets, integrations name the secret that holds their URL.
/// </summary>
public sealed class ConfigFile
{
    public const int CurrentVersion = 1;

    /// <summary>The file format's version: 1.</summary>
    public int? Version { get; set; }
    /// <summary>The team the file describes; when given, it must be the team of the URL (a file applied to the wrong team is refused).</summary>
    public string? Entity { get; set; }
    public List<WebhooksEndpoints.WebhookBody?>? Webhooks { get; set; }
    public List<IntegrationEntry?>? Integrations { get; set; }
    public List<QueuesEndpoints.QueueBody?>? Queues { get; set; }
    /// <summary>Project automations, each with its `project`.</summary>
    public List<AutomationEntry?>? Automations { get; set; }
    /// <summary>Team automations (every project of the team, narrowed by `event.projectRegex`): the body of POST /automations, keyed by name.</summary>
    public List<AutomationBody?>? TeamAutomations { get; set; }
}

/// <summary>A Slack or Teams integration whose incoming-webhook URL is the value of a team secret.</summary>
public sealed class IntegrationEntry
{
    public string? Name { get; set; }
    public string? Kind { get; set; }
    /// <summary>
    /// The team secret holding the incoming-webhook URL. Required to create an integration; when left out for an
    /// integration that exists, its URL stays as it is (an integration added with a URL through the API exports so).
    /// </summary>
    public string? UrlSecret { get; set; }
}

/// <summary>An automation of a project: the body the automations endpoints take, and the project it belongs to.</summary>
public sealed class AutomationEntry : AutomationBody
{
    [JsonPropertyOrder(-1)]
    public string? Project { get; set; }
}
