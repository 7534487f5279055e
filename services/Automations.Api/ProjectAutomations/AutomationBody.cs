using System.Text.Json;
using System.Text.Json.Serialization;

namespace Automations.Api.ProjectAutomations;

/// <summary>The automation as the API reads and writes it (camelCase on the wire).</summary>
public class AutomationBody
{
    public string? Name { get; set; }
    public string? Description { get; set; }
    public bool? Enabled { get; set; }
    public EventFilter? Event { get; set; }
    public AutomationAction? Action { get; set; }
}

public sealed class EventFilter
{
    public string? Type { get; set; }
    public string? Collection { get; set; }
    public string? AliasRegex { get; set; }
    public string? TagRegex { get; set; }
    /// <summary>RUN_STATE: the state the run enters (running, finished, failed, crashed).</summary>
    public string? State { get; set; }
    /// <summary>Run automations: a regex searched in the run's name.</summary>
    public string? RunNameRegex { get; set; }
    /// <summary>Run automations: only runs of this user.</summary>
    public string? User { get; set; }
    /// <summary>RUN_METRIC_THRESHOLD / RUN_METRIC_CHANGE: the metric condition (W&amp;B's names).</summary>
    public Automations.Core.Runs.MetricFilter? Metric { get; set; }
}

/// <summary>
/// `{type: "webhook", webhook, payload}`, `{type: "launch", job, jobVersion, overrides, targetProject, queue}`,
/// `{type: "notification", integration, title, text, severity}` (W&amp;B's SendNotification) or `{type: "no_op"}` (W&amp;B's DoNothing).
/// </summary>
public sealed class AutomationAction
{
    public string? Type { get; set; }
    /// <summary>A notification's Slack or Teams integration, by name.</summary>
    public string? Integration { get; set; }
    /// <summary>A notification's title: a template string (the payload's `${name}` variables and team secrets).</summary>
    public string? Title { get; set; }
    /// <summary>A notification's text (Slack mrkdwn): a template string, as the title.</summary>
    public string? Text { get; set; }
    /// <summary>info, warning or error (W&amp;B's INFO, WARN, ERROR are accepted); info when omitted.</summary>
    public string? Severity { get; set; }
    public string? Webhook { get; set; }
    /// <summary>The JSON template, as a string; a JSON object or array is accepted too and kept as its text. Anything else is refused.</summary>
    public JsonElement? Payload { get; set; }
    public string? Job { get; set; }
    public int? JobVersion { get; set; }
    public JsonElement? Overrides { get; set; }
    public string? TargetProject { get; set; }
    public string? Queue { get; set; }

    public string? PayloadText => Payload switch
    {
        null => null,
        { ValueKind: JsonValueKind.String } p => p.GetString(),
        { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined } => null,
        var p => p.Value.GetRawText(),
    };
}

/// <summary>A row of the list: the five W&amp;B columns (name, trigger, action type, action name, queue) plus enabled and id.</summary>
public sealed class AutomationSummary
{
    public Guid Id { get; set; }
    public string Name { get; set; } = "";
    public string TriggerType { get; set; } = "";
    public string ActionType { get; set; } = "";
    public string ActionName { get; set; } = "";
    public string Queue { get; set; } = "";
    public bool Enabled { get; set; }
}

public sealed class AutomationView
{
    public Guid Id { get; set; }
    public string Entity { get; set; } = "";
    public string Project { get; set; } = "";
    public string Name { get; set; } = "";
    public string? Description { get; set; }
    public bool Enabled { get; set; }
    public EventFilter Event { get; set; } = new();
    public object Action { get; set; } = new();
    public string? CreatedBy { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }

    /// <summary>On create and update only (empty when none): what the saved automation does that its author may not expect.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<AutomationWarning>? Warnings { get; set; }
}

/// <summary>A note on a saved automation, naming the field it concerns (as validation errors do).</summary>
public sealed record AutomationWarning(string Field, string Message);
