using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Automations.Console.Components.Wizard;

/// <summary>
/// The New automation wizard as one form: event, action, details and the preview's sample. Every section's fields are
/// posted (the script only hides the ones that do not apply); <see cref="ToBody"/> sends the Api only the fields of the
/// chosen event and action, so a hidden section's leftovers are never validated.
/// </summary>
public sealed class WizardForm
{
    public const string CreateArtifact = "CREATE_ARTIFACT";
    public const string LinkArtifact = "LINK_ARTIFACT";
    public const string AddArtifactAlias = "ADD_ARTIFACT_ALIAS";
    public const string RunState = "RUN_STATE";
    public const string RunMetricThreshold = "RUN_METRIC_THRESHOLD";
    public const string RunMetricChange = "RUN_METRIC_CHANGE";

    public string? EventType { get; set; }
    public string? ProjectRegex { get; set; }
    public string? Collection { get; set; }
    public string? AliasRegex { get; set; }
    public string? State { get; set; }
    public string? RunNameRegex { get; set; }
    public string? RunUser { get; set; }
    public string? Metric { get; set; }
    public string? Agg { get; set; }
    public string? Window { get; set; }
    public string? Cmp { get; set; }
    public string? Threshold { get; set; }
    public string? PriorWindow { get; set; }
    public string? ChangeType { get; set; }
    public string? ChangeDir { get; set; }
    public string? ChangeAmount { get; set; }
    public string? ActionType { get; set; }
    public string? Webhook { get; set; }
    public string? Payload { get; set; }
    public string? Job { get; set; }
    /// <summary>"job#version": the drop-down lists every job's versions, so the value says whose version it is.</summary>
    public string? JobVersion { get; set; }
    public string? Overrides { get; set; }
    public string? TargetProject { get; set; }
    public string? Queue { get; set; }
    public string? Integration { get; set; }
    public string? Title { get; set; }
    public string? Text { get; set; }
    public string? Severity { get; set; }
    public string? Name { get; set; }
    public string? Description { get; set; }
    public string? Sample { get; set; }
    /// <summary>The submit button used: empty (Create), "preview", or "example:KEY" (fill the payload, without script).</summary>
    public string? Intent { get; set; }

    public static readonly (string Value, string Text)[] EventTypes =
    [
        (CreateArtifact, "A new version is added to a collection"),
        (LinkArtifact, "A version is linked to a collection"),
        (AddArtifactAlias, "An alias is added to a version"),
        (RunState, "A run enters a state"),
        (RunMetricThreshold, "A run metric crosses a threshold"),
        (RunMetricChange, "A run metric changes between windows"),
    ];

    public static readonly string[] RunStates = ["running", "finished", "failed", "crashed"];
    public static readonly (string Value, string Text)[] Aggs = [("LATEST", "latest value"), ("AVERAGE", "average"), ("MIN", "min"), ("MAX", "max")];
    public static readonly (string Value, string Text)[] Cmps = [(">", ">"), (">=", ">="), ("<", "<"), ("<=", "<=")];
    public static readonly (string Value, string Text)[] ChangeTypes = [("ABSOLUTE", "by an absolute amount"), ("RELATIVE", "by a fraction of the prior window (0.1 = 10 %)")];
    public static readonly (string Value, string Text)[] ChangeDirs = [("ANY", "either way"), ("INCREASE", "increases"), ("DECREASE", "decreases")];
    public static readonly (string Value, string Text)[] Severities = [("info", "Info"), ("warning", "Warning"), ("error", "Error")];
    public static readonly (string Value, string Text)[] ActionTypes =
        [("webhook", "Webhook"), ("launch", "Launch job"), ("notification", "Slack or Teams notification"), ("no_op", "Do nothing (try the trigger)")];

    /// <summary>The template variables (Automations.Core's TemplateVariables, which the console does not reference): what `$` offers members.</summary>
    public static readonly string[] Variables =
    [
        "event_type", "event_author", "artifact_version", "artifact_version_string", "artifact_collection_name",
        "artifact_version_index", "alias", "tag", "project_name", "entity_name", "automation_name",
    ];

    public static readonly string[] RunVariables =
    [
        "run_id", "run_name", "run_state", "run_user", "run_tags", "run_url", "run_step",
        "metric_name", "metric_value", "metric_threshold", "metric_prior_value", "metric_agg", "metric_window",
    ];

    /// <summary>W&amp;B's example payloads, one click away in the editor.</summary>
    public static readonly (string Key, string Label, string Payload)[] Examples =
    [
        ("github", "GitHub repository_dispatch",
            """
            {
              "event_type": "${event_type}",
              "client_payload": {
                "event_author": "${event_author}",
                "artifact_version": "${artifact_version}",
                "artifact_version_string": "${artifact_version_string}",
                "artifact_collection_name": "${artifact_collection_name}",
                "project_name": "${project_name}",
                "entity_name": "${entity_name}"
              }
            }
            """),
        ("slack", "Slack",
            """
            {
              "text": "New version of ${artifact_collection_name}: ${artifact_version_string}",
              "blocks": [
                {
                  "type": "section",
                  "text": {
                    "type": "mrkdwn",
                    "text": "*${event_type}* in ${project_name}: `${artifact_version_string}` by ${event_author}"
                  }
                }
              ]
            }
            """),
        ("teams", "Microsoft Teams",
            """
            {
              "@type": "MessageCard",
              "@context": "http://schema.org/extensions",
              "summary": "New version of ${artifact_collection_name}",
              "sections": [
                {
                  "activityTitle": "${event_type} in ${project_name}",
                  "text": "${artifact_version_string} by ${event_author}"
                }
              ]
            }
            """),
    ];

    public static WizardForm Empty(string entity, string? project) => new()
    {
        EventType = CreateArtifact, ActionType = "webhook", Payload = Examples[0].Payload, State = "finished", Agg = "LATEST", Window = "1", Cmp = ">",
        ChangeType = "ABSOLUTE", ChangeDir = "ANY", Severity = "info",
        Title = "New version of ${artifact_collection_name}", Text = "${artifact_version_string} by ${event_author}",
        Sample = DefaultSample(entity, project),
    };

    /// <summary>A team automation's sample names an example project: the user puts one of the team's there.</summary>
    public const string TeamSampleProject = "mnist";

    public static string DefaultSample(string entity, string? project) => JsonSerializer.Serialize(new
    {
        eventId = "preview-1", eventType = AddArtifactAlias, entity, project = project ?? TeamSampleProject, collection = "eval-set", versionIndex = 3,
        alias = "production", author = "jane", occurredAt = "2026-11-27T22:41:00Z", metadata = new { accuracy = 0.93 },
    }, new JsonSerializerOptions { WriteIndented = true });

    public bool IsRun => EventType is RunState or RunMetricThreshold or RunMetricChange;

    /// <summary>One field of the form: the Api's name for it, its id and label here, and its property (for aria-invalid).</summary>
    public sealed record Field(string ApiName, string Id, string Label, string Property);

    /// <summary>The Api's field names in the form's words. More specific names first: a refusal goes to the first that fits.</summary>
    public static readonly Field[] AllFields =
    [
        new("name", "automation-name", "Automation name", nameof(Name)),
        new("description", "description", "Description", nameof(Description)),
        new("event.type", "event-type", "Event", nameof(EventType)),
        new("event.projectRegex", "project-regex", "Project regex", nameof(ProjectRegex)),
        new("event.collection", "collection", "Collection", nameof(Collection)),
        new("event.aliasRegex", "alias-regex", "Alias regex", nameof(AliasRegex)),
        new("event.state", "run-state", "Run state", nameof(State)),
        new("event.runNameRegex", "run-name-regex", "Run name regex", nameof(RunNameRegex)),
        new("event.user", "run-user", "User", nameof(RunUser)),
        new("event.metric.name", "metric-name", "Metric", nameof(Metric)),
        new("event.metric.agg", "metric-agg", "Aggregate", nameof(Agg)),
        new("event.metric.window", "metric-window", "Window", nameof(Window)),
        new("event.metric.cmp", "metric-cmp", "Comparison", nameof(Cmp)),
        new("event.metric.threshold", "metric-threshold", "Threshold", nameof(Threshold)),
        new("event.metric.priorWindow", "metric-prior-window", "Prior window", nameof(PriorWindow)),
        new("event.metric.changeType", "metric-change-type", "Change", nameof(ChangeType)),
        new("event.metric.changeDir", "metric-change-dir", "Direction", nameof(ChangeDir)),
        new("event.metric.changeAmount", "metric-change-amount", "Amount", nameof(ChangeAmount)),
        new("event.metric", "metric-name", "Metric", nameof(Metric)),
        new("event", "event-type", "Event", nameof(EventType)),
        new("action.type", "action-type", "Action", nameof(ActionType)),
        new("action.webhook", "webhook", "Webhook", nameof(Webhook)),
        new("action.payload", "payload", "Payload", nameof(Payload)),
        new("action.job", "job", "Job", nameof(Job)),
        new("action.jobVersion", "job-version", "Job version", nameof(JobVersion)),
        new("action.overrides", "overrides", "Config overrides", nameof(Overrides)),
        new("action.targetProject", "target-project", "Target project", nameof(TargetProject)),
        new("action.queue", "queue", "Queue", nameof(Queue)),
        new("action.integration", "integration", "Integration", nameof(Integration)),
        new("action.title", "title", "Title", nameof(Title)),
        new("action.text", "text", "Text", nameof(Text)),
        new("action.severity", "severity", "Severity", nameof(Severity)),
        new("action", "action-type", "Action", nameof(ActionType)),
        new("sample", "sample", "Sample event", nameof(Sample)),
        new("metricHistory", "sample", "Sample event", nameof(Sample)),
    ];

    public static readonly IReadOnlyDictionary<string, (string Id, string Label)> Fields = AllFields.ToDictionary(f => f.ApiName, f => (f.Id, f.Label));

    public static string LabelOf(string apiName) =>
        AllFields.FirstOrDefault(f => apiName == f.ApiName || apiName.StartsWith(f.ApiName + ".", StringComparison.Ordinal))?.Label ?? "The form";

    /// <summary>
    /// The Api's body for a create (and, with the sample, a preview). Checks that need no Api come first, in the form's
    /// words (a JSON text's line and character, a number that is not one); null with those errors (by field id) when any.
    /// </summary>
    public (JsonObject? Body, Dictionary<string, string> Errors) ToBody(bool team)
    {
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        var ev = new JsonObject { ["type"] = T(EventType) };
        if (team && T(ProjectRegex) is { } pr) ev["projectRegex"] = pr;
        switch (EventType)
        {
            case AddArtifactAlias: ev["aliasRegex"] = T(AliasRegex); break;
            case RunState or RunMetricThreshold or RunMetricChange:
                ev["runNameRegex"] = T(RunNameRegex);
                ev["user"] = T(RunUser);
                if (EventType == RunState) ev["state"] = T(State);
                else ev["metric"] = MetricBody(errors);
                break;
            default: ev["collection"] = T(Collection); break;
        }

        var action = new JsonObject { ["type"] = T(ActionType) };
        switch (ActionType)
        {
            case "webhook":
                action["webhook"] = T(Webhook);
                if (JsonError("Payload", Payload) is { } payloadError) errors["payload"] = payloadError;
                action["payload"] = Payload ?? "";
                break;
            case "launch":
                action["job"] = T(Job);
                if (T(JobVersion) is { } jv)
                {
                    var hash = jv.LastIndexOf('#');
                    var ofJob = hash < 0 ? T(Job) : jv[..hash];
                    if (!int.TryParse(jv.AsSpan(hash + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var v)) errors["job-version"] = "Job version must be a version number.";
                    else if (!string.Equals(ofJob, T(Job), StringComparison.Ordinal)) errors["job-version"] = $"Job version: choose a version of the job {T(Job) ?? "chosen above"} (this one is of {ofJob}).";
                    else action["jobVersion"] = v;
                }
                if (T(Overrides) is { } o)
                {
                    if (JsonError("Config overrides", o) is { } overridesError) errors["overrides"] = overridesError;
                    else
                    {
                        var node = JsonNode.Parse(o);
                        if (node is JsonObject) action["overrides"] = node;
                        else errors["overrides"] = "Config overrides must be a JSON object ({\"key\": value, …}).";
                    }
                }
                action["targetProject"] = T(TargetProject);
                action["queue"] = T(Queue);
                break;
            case "notification":
                action["integration"] = T(Integration);
                action["title"] = T(Title);
                action["text"] = T(Text);
                action["severity"] = T(Severity);
                break;
        }
        var body = new JsonObject { ["name"] = T(Name), ["description"] = T(Description), ["enabled"] = true, ["event"] = ev, ["action"] = action };
        return (errors.Count > 0 ? null : body, errors);
    }

    private JsonObject MetricBody(Dictionary<string, string> errors)
    {
        var metric = new JsonObject { ["name"] = T(Metric), ["agg"] = T(Agg), ["window"] = Int(Window, "metric-window", "Window") };
        if (EventType == RunMetricThreshold)
        {
            metric["cmp"] = T(Cmp);
            metric["threshold"] = Num(Threshold, "metric-threshold", "Threshold");
        }
        else
        {
            metric["priorWindow"] = Int(PriorWindow, "metric-prior-window", "Prior window");
            metric["changeType"] = T(ChangeType);
            metric["changeDir"] = T(ChangeDir);
            metric["changeAmount"] = Num(ChangeAmount, "metric-change-amount", "Amount");
        }
        return metric;

        int? Int(string? text, string id, string label)
        {
            if (T(text) is not { } s) return null;
            if (int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n)) return n;
            errors[id] = $"{label} must be a whole number.";
            return null;
        }

        double? Num(string? text, string id, string label)
        {
            if (T(text) is not { } s) return null;
            if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) && double.IsFinite(d)) return d;
            errors[id] = $"{label} must be a number (e.g. 0.25).";
            return null;
        }
    }

    public static string Summary(int count) => count == 1 ? "Please correct the field marked below." : $"Please correct the {count} fields marked below.";

    /// <summary>Where a JSON text stops being JSON, in words (line and character, counted from 1), or null when it parses.</summary>
    public static string? JsonError(string label, string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return $"{label} is empty: write a JSON document.";
        try
        {
            using var _ = JsonDocument.Parse(text);
            return null;
        }
        catch (JsonException ex)
        {
            return $"{label} is not valid JSON: the problem is at line {(ex.LineNumber ?? 0) + 1}, character {(ex.BytePositionInLine ?? 0) + 1}.";
        }
    }

    private static string? T(string? s) => string.IsNullOrWhiteSpace(s) ? null : s.Trim();

    /// <summary>A copy for the draft store (the bound instance belongs to the request).</summary>
    public WizardForm Copy() => (WizardForm)MemberwiseClone();
}
