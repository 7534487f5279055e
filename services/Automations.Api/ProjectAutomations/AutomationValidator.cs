using System.Text;
using System.Text.Json;
using Automations.Api.Http;
using Automations.Contracts;
using Automations.Core.Filters;
using Automations.Core.Runs;
using Automations.Core.Notifications;
using Automations.Core.Templates;
using Automations.Core.Validation;
using Dapper;
using Npgsql;

namespace Automations.Api.ProjectAutomations;

/// <summary>Save-time validation: everything an automation refers to exists in the same entity, and every filter and template is usable.</summary>
public static class AutomationValidator
{
    public const int MaxRegexLength = FilterRegex.MaxLength;
    public const int MaxPayloadLength = 64 * 1024;
    public static readonly TimeSpan RegexTimeout = TimeSpan.FromMilliseconds(100);
    private static readonly string[] EventTypeNames = [EventTypes.CreateArtifact, EventTypes.LinkArtifact, EventTypes.AddArtifactAlias, .. RunEventTypes.Triggers];

    /// <summary>What is stored: names resolved to ids. <paramref name="Warnings"/> are answered, not stored: the automation is valid as it is.</summary>
    public sealed record Resolved(
        string Name, string? Description, bool Enabled, string EventType, string? Collection, string? AliasRegex, string? TagRegex,
        string ActionType, Guid? WebhookId, string? Payload, Guid? JobId, int? JobVersion, Guid? QueueId, string? TargetProject, string? OverridesJson,
        IReadOnlyList<AutomationWarning> Warnings,
        string? RunFilterJson = null, string? NotificationTitle = null, string? NotificationText = null, string? NotificationSeverity = null,
        string? ProjectRegex = null);

    public const string ActionTypesText = "webhook, launch, notification or no_op";

    /// <param name="team">A team automation (it may have a project regex; a project automation may not).</param>
    public static async Task<(Resolved? Value, IResult? Error)> CheckAsync(AutomationBody body, Guid entityId, NpgsqlConnection c, bool team = false)
    {
        var (value, errors) = await ValidateAsync(body, entityId, c, team);
        return value is null ? (null, errors.ToResult()) : (value, null);
    }

    /// <summary>
    /// The same rules as <see cref="CheckAsync"/>, with the errors by field (`event.aliasRegex`) for a caller that names them
    /// differently (a configuration file's `automations[2].event.aliasRegex`). Reads through <paramref name="c"/>, so inside a
    /// transaction it sees what that transaction wrote.
    /// </summary>
    public static async Task<(Resolved? Value, Errors Errors)> ValidateAsync(AutomationBody body, Guid entityId, NpgsqlConnection c, bool team = false)
    {
        var errors = new Errors();
        RunFilter? runFilter = null;
        Names.Check(errors, "name", body.Name?.Trim(), Names.Display(), "may contain letters, digits, '_' and '-', in words separated by spaces");
        if (body.Description is { Length: > 1000 }) errors.Add("description", "must be at most 1000 characters");

        var ev = body.Event;
        if (ev is null) errors.Add("event", "is required: {type, collection, aliasRegex, tagRegex}");
        else
        {
            if (string.IsNullOrEmpty(ev.Type)) errors.Add("event.type", $"is required: one of {string.Join(", ", EventTypeNames)}");
            else if (!EventTypeNames.Contains(ev.Type, StringComparer.Ordinal)) errors.Add("event.type", $"'{ev.Type}' is not one of {string.Join(", ", EventTypeNames)}");
            if (ev.Type is EventTypes.CreateArtifact or EventTypes.LinkArtifact && string.IsNullOrWhiteSpace(ev.Collection))
                errors.Add("event.collection", $"is required for {ev.Type}");
            if (!string.IsNullOrWhiteSpace(ev.Collection) && NameRules.CheckCollection(ev.Collection) is { } collectionRule)
                errors.Add("event.collection", collectionRule);
            CheckRegex(errors, "event.aliasRegex", ev.AliasRegex);
            CheckRegex(errors, "event.tagRegex", ev.TagRegex);
            if (team) CheckRegex(errors, "event.projectRegex", ev.ProjectRegex);
            else if (ev.ProjectRegex is not null) errors.Add("event.projectRegex", "is only for team automations (/v1/entities/{entity}/automations)");
            if (RunEventTypes.IsTrigger(ev.Type))
            {
                foreach (var (field, value) in new[] { ("collection", ev.Collection), ("aliasRegex", ev.AliasRegex), ("tagRegex", ev.TagRegex) })
                    if (!string.IsNullOrWhiteSpace(value)) errors.Add($"event.{field}", $"is only for artifact events, not {ev.Type}");
                CheckRegex(errors, "event.runNameRegex", ev.RunNameRegex);
                runFilter = new RunFilter { State = Empty(ev.State), RunNameRegex = Empty(ev.RunNameRegex), User = Empty(ev.User), Metric = ev.Metric };
                foreach (var problem in runFilter.Check(ev.Type!)) errors.Add(problem.Field, problem.Message);
            }
            else
            {
                foreach (var (field, set) in new[] { ("state", ev.State is not null), ("runNameRegex", ev.RunNameRegex is not null), ("user", ev.User is not null), ("metric", ev.Metric is not null) })
                    if (set) errors.Add($"event.{field}", $"is only for run events ({string.Join(", ", RunEventTypes.Triggers)})");
            }
        }

        var a = body.Action;
        Guid? webhookId = null, jobId = null, queueId = null;
        string? payload = null, overrides = null, title = null, text = null, severity = null;
        var warnings = new List<AutomationWarning>();
        if (a is null)
            errors.Add("action", "is required: {type: webhook, webhook, payload}, {type: launch, job, jobVersion, queue, overrides, targetProject}, " +
                "{type: notification, integration, title, text, severity} or {type: no_op}");
        else if (a.Type == "no_op") { }
        else if (a.Type == "notification")
        {
            string? kind = null;
            if (string.IsNullOrWhiteSpace(a.Integration)) errors.Add("action.integration", "is required (a Slack or Teams integration name of this entity)");
            else
            {
                var found = await c.QuerySingleOrDefaultAsync<IntegrationRef>(
                    "select id as Id, kind as Kind from control.webhooks where entity_id = @entityId and name = @name and kind <> 'generic'",
                    new { entityId, name = a.Integration });
                if (found is null) errors.Add("action.integration", $"there is no integration named '{a.Integration}' in this entity (GET /integrations)");
                else
                {
                    webhookId = found.Id;
                    kind = found.Kind;
                }
            }
            severity = a.Severity is null ? Severities.Info : Severities.Normalize(a.Severity);
            if (severity is null) errors.Add("action.severity", $"'{a.Severity}' is not one of {string.Join(", ", Severities.All)}");
            var secrets = (await c.QueryAsync<string>("select name from control.secrets where entity_id = @entityId", new { entityId })).AsList();
            title = CheckMessagePart(errors, "action.title", a.Title, NotificationMessage.MaxTitleLength, secrets);
            text = CheckMessagePart(errors, "action.text", a.Text, NotificationMessage.MaxTextLength, secrets);
            if (kind is not null && severity is not null && title is not null && text is not null)
                payload = NotificationMessage.Template(kind, title, text, severity);
        }
        else if (a.Type is "webhook" or "launch" && (a.Integration ?? a.Title ?? a.Text ?? a.Severity) is not null)
            errors.Add("action.type", $"integration, title, text and severity belong to a notification action; this one is {a.Type}");
        if (a is null || a.Type is "no_op" or "notification") { }
        else if (a.Type == "webhook")
        {
            if (string.IsNullOrWhiteSpace(a.Webhook)) errors.Add("action.webhook", "is required (a webhook name of this entity)");
            else
            {
                webhookId = await c.QuerySingleOrDefaultAsync<Guid?>("select id from control.webhooks where entity_id = @entityId and name = @name and kind = 'generic'", new { entityId, name = a.Webhook });
                if (webhookId is null) errors.Add("action.webhook", $"there is no webhook named '{a.Webhook}' in this entity");
            }
            payload = a.PayloadText;
            if (a.Payload is { ValueKind: not (JsonValueKind.String or JsonValueKind.Object or JsonValueKind.Array or JsonValueKind.Null or JsonValueKind.Undefined) })
                errors.Add("action.payload", "must be a JSON string holding the JSON template (a JSON object or array is taken as the template itself)");
            else if (payload is { Length: > MaxPayloadLength }) errors.Add("action.payload", $"must be at most {MaxPayloadLength} characters");
            // Inside the template too: what it holds is rendered into runs and deliveries, which store it.
            else if (payload is not null && JsonText.CheckValues(Encoding.UTF8.GetBytes(payload)) is { } unstorable)
                errors.Add("action.payload", unstorable.Field == "body" ? $"the template {unstorable.Message}" : $"the template's {unstorable.Field} {unstorable.Message}");
            else
            {
                var secrets = (await c.QueryAsync<string>("select name from control.secrets where entity_id = @entityId", new { entityId })).AsList();
                foreach (var problem in PayloadTemplate.Validate(payload, secrets)) errors.Add("action.payload", problem);
                // Names only: a member learns no more than Validate's "neither a template variable nor a secret" already tells.
                warnings.AddRange(PayloadTemplate.BareReferences(payload, secrets)
                    .Select(name => new AutomationWarning("action.payload", PayloadTemplate.BareReferenceWarning(name, secrets))));
            }
        }
        else if (a.Type == "launch")
        {
            if (string.IsNullOrWhiteSpace(a.Job)) errors.Add("action.job", "is required (a launch job name of this entity)");
            else
            {
                jobId = await c.QuerySingleOrDefaultAsync<Guid?>("select id from control.launch_jobs where entity_id = @entityId and name = @name", new { entityId, name = a.Job });
                if (jobId is null) errors.Add("action.job", $"there is no launch job named '{a.Job}' in this entity");
                else if (a.JobVersion is null) errors.Add("action.jobVersion", "is required");
                else if (!await c.ExecuteScalarAsync<bool>("select exists (select 1 from control.launch_job_versions where job_id = @jobId and version = @v)", new { jobId, v = a.JobVersion }))
                    errors.Add("action.jobVersion", $"job '{a.Job}' has no version {a.JobVersion}");
            }
            if (string.IsNullOrWhiteSpace(a.Queue)) errors.Add("action.queue", "is required (a launch queue name of this entity)");
            else
            {
                queueId = await c.QuerySingleOrDefaultAsync<Guid?>("select id from control.launch_queues where entity_id = @entityId and name = @name", new { entityId, name = a.Queue });
                if (queueId is null) errors.Add("action.queue", $"there is no launch queue named '{a.Queue}' in this entity");
            }
            if (a.Overrides is { } o && o.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null or JsonValueKind.Undefined))
                errors.Add("action.overrides", "must be a JSON object");
            else if (a.Overrides is { ValueKind: JsonValueKind.Object } obj) overrides = obj.GetRawText();
            if (!string.IsNullOrWhiteSpace(a.TargetProject) && NameRules.CheckProject(a.TargetProject) is { } projectRule)
                errors.Add("action.targetProject", projectRule);
        }
        else errors.Add("action.type", string.IsNullOrEmpty(a.Type) ? $"is required: {ActionTypesText}" : $"'{a.Type}' is not {ActionTypesText}");

        if (errors.Any) return (null, errors);
        return (new Resolved(body.Name!.Trim(), body.Description, body.Enabled ?? true, ev!.Type!, Empty(ev.Collection), Empty(ev.AliasRegex), Empty(ev.TagRegex),
            a!.Type!, webhookId, payload, jobId, a.Type == "launch" ? a.JobVersion : null, queueId, Empty(a.TargetProject), overrides, warnings,
            runFilter?.ToJson(), title, text, severity, team ? Empty(ev.ProjectRegex) : null), errors);
    }

    private sealed class IntegrationRef
    {
        public Guid Id { get; set; }
        public string Kind { get; set; } = "";
    }

    /// <summary>A notification's title or text: required, short enough for Slack, and a template whose names all exist.</summary>
    private static string? CheckMessagePart(Errors errors, string field, string? value, int maxLength, IEnumerable<string> secrets)
    {
        if (string.IsNullOrWhiteSpace(value)) { errors.Add(field, "is required"); return null; }
        if (value.Length > maxLength) { errors.Add(field, $"must be at most {maxLength} characters (Slack's limits)"); return null; }
        var problems = PayloadTemplate.Validate(JsonSerializer.Serialize(value), secrets);
        foreach (var problem in problems) errors.Add(field, problem.Replace("the payload", "the text", StringComparison.Ordinal));
        return problems.Count == 0 ? value : null;
    }

    private static string? Empty(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    private static void CheckRegex(Errors errors, string field, string? pattern)
    {
        if (FilterRegex.Check(pattern, RegexTimeout) is { } problem) errors.Add(field, problem);
    }
}
