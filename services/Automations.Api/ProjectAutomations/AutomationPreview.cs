using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Automations.Api.Access;
using Automations.Api.Http;
using Automations.Contracts;
using Automations.Core.Events;
using Automations.Core.Filters;
using Automations.Core.Matching;
using Automations.Core.Runs;
using Automations.Core.Secrets;
using Automations.Core.Templates;
using Automations.Core.Webhooks;
using Automations.Persistence.Control;
using Dapper;
using Npgsql;

namespace Automations.Api.ProjectAutomations;

/// <summary>The body of a saved automation's preview: a sample event, and for a metric automation the run's earlier values.</summary>
public sealed class PreviewBody
{
    /// <summary>An artifact or run event, the JSON a producer sends to POST /v1/events (checked by the same rules).</summary>
    public JsonElement? Sample { get; set; }
    /// <summary>RUN_METRIC samples: the values the run logged for the condition's metric before the sample's, oldest first.</summary>
    public double[]? MetricHistory { get; set; }
}

/// <summary>The body of an unsaved automation's preview: the body of a create, with the sample (and metric history) beside it.</summary>
public sealed class UnsavedPreviewBody : AutomationBody
{
    public JsonElement? Sample { get; set; }
    public double[]? MetricHistory { get; set; }
}

/// <summary>Why the automation would not fire: the field of the automation (or of the sample) and a sentence.</summary>
public sealed record PreviewRefusal(string Field, string Reason);

public sealed class PreviewAnswer
{
    /// <summary>Whether this event would fire the automation.</summary>
    public bool Matches { get; set; }
    /// <summary>The first check that refused the event, in the order Rules checks; null when it matches.</summary>
    public PreviewRefusal? Refusal { get; set; }
    /// <summary>
    /// A team automation's preview only: whether its project regex finds the sample's project (absent: every project),
    /// whatever the other filters decide. Left out of a project automation's answer.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? ProjectMatches { get; set; }
    /// <summary>What the preview assumed, or what to know about the action.</summary>
    public List<string> Notes { get; set; } = [];
    /// <summary>What the action would do with this event (rendered whether or not the event matches).</summary>
    public PreviewAction Action { get; set; } = new();
}

public sealed class PreviewAction
{
    /// <summary>webhook, notification, launch or no_op.</summary>
    public string Type { get; set; } = "";
    /// <summary>The webhook or the notification integration, by name.</summary>
    public string? Webhook { get; set; }
    /// <summary>generic, slack or teams.</summary>
    public string? Kind { get; set; }
    /// <summary>The request a webhook or a notification would send; secrets never shown.</summary>
    public PreviewRequest? Request { get; set; }
    /// <summary>The team secrets the body refers to, by name (shown as <c>${NAME}</c> in it), filled in only when it is sent.</summary>
    public List<string>? SecretReferences { get; set; }
    public string? Job { get; set; }
    public int? JobVersion { get; set; }
    public string? Queue { get; set; }
    public string? TargetProject { get; set; }
    /// <summary>A launch's config overrides, rendered.</summary>
    public JsonElement? Overrides { get; set; }
    /// <summary>What happens instead of a request (no_op), or why nothing could be rendered.</summary>
    public string? Effect { get; set; }
}

public sealed class PreviewRequest
{
    public string Method { get; set; } = "POST";
    /// <summary>The target; a notification integration's secret URL in its masked form.</summary>
    public string Url { get; set; } = "";
    public Dictionary<string, string> Headers { get; set; } = [];
    /// <summary>The exact body text, but each team secret shown as <c>${NAME}</c>.</summary>
    public string Body { get; set; } = "";
}

/// <summary>
/// Preview: what a saved or unsaved automation does with a sample event, decided by the code Rules runs
/// (<see cref="AutomationTrigger"/>, <see cref="MetricWindow"/>, <see cref="ActionRendering"/>, <see cref="WebhookHeaders"/>)
/// and explained by <see cref="TriggerExplanation"/>. It writes nothing and decrypts nothing: a secret stays its
/// `${NAME}` reference, signatures and the access token are masked, and an integration's URL is its stored masked form,
/// so a member learns no more than the automation and the webhook list already show.
/// </summary>
public static class AutomationPreview
{
    /// <summary>Two full windows of the widest metric condition: enough for any change condition to hold and to have held.</summary>
    public const int MaxMetricHistory = 2 * MetricFilter.MaxWindow;

    /// <summary>
    /// The most characters a preview renders (template plus every value it takes from the sample): a template that repeats
    /// a large metadata value would otherwise multiply the sample's size.
    /// </summary>
    public const int MaxRenderedChars = 1024 * 1024;

    /// <summary>What <c>${automation_name}</c> renders as when an unsaved automation has no name yet.</summary>
    public const string UnsavedName = "unsaved automation";

    /// <summary>The previews of a project's automations (under /projects/{project}/automations).</summary>
    public static RouteGroupBuilder MapAutomationPreview(this RouteGroupBuilder g)
    {
        g.MapPost("/preview", (string project, HttpContext http, NpgsqlDataSource db, IConfiguration configuration, CancellationToken ct) =>
                PreviewUnsavedAsync(project, http, db, configuration, ct))
            .Accepts<UnsavedPreviewBody>("application/json").Produces<PreviewAnswer>().ProducesValidationProblem()
            .WithSummary("Preview an unsaved automation (the body of a create, with `sample`): whether the sample event matches, why not, and what would be sent.");
        g.MapPost("/{id:guid}/preview", (string project, Guid id, HttpContext http, NpgsqlDataSource db, IConfiguration configuration, CancellationToken ct) =>
                PreviewSavedAsync(project, id, http, db, configuration, ct))
            .Accepts<PreviewBody>("application/json").Produces<PreviewAnswer>().ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Preview a saved automation with a sample event: whether it matches, why not, and what would be sent (secrets masked).");
        return g;
    }

    /// <summary>
    /// The previews of the team's automations (under /automations): the same answer with projectMatches. Every member may
    /// preview one, as a project automation (it writes nothing and shows no secret); only creating one is for admins.
    /// </summary>
    public static RouteGroupBuilder MapTeamAutomationPreview(this RouteGroupBuilder g)
    {
        g.MapPost("/preview", (HttpContext http, NpgsqlDataSource db, IConfiguration configuration, CancellationToken ct) =>
                PreviewUnsavedAsync(null, http, db, configuration, ct))
            .Accepts<UnsavedPreviewBody>("application/json").Produces<PreviewAnswer>().ProducesValidationProblem()
            .WithSummary("Preview an unsaved team automation (the body of a create, with `sample`): whether the sample event matches (projectMatches: its project regex), why not, and what would be sent.");
        g.MapPost("/{id:guid}/preview", (Guid id, HttpContext http, NpgsqlDataSource db, IConfiguration configuration, CancellationToken ct) =>
                PreviewSavedAsync(null, id, http, db, configuration, ct))
            .Accepts<PreviewBody>("application/json").Produces<PreviewAnswer>().ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status404NotFound)
            .WithSummary("Preview a saved team automation with a sample event: whether it matches (projectMatches: its project regex), why not, and what would be sent (secrets masked).");
        return g;
    }

    private sealed record Sample(ArtifactEventReceived? Artifact, RunEventReceived? Run, IReadOnlyList<double> History);

    /// <summary>A null <paramref name="project"/>: a team automation (the rules of a team create: a project regex allowed).</summary>
    private static async Task<IResult> PreviewUnsavedAsync(string? project, HttpContext http, NpgsqlDataSource db, IConfiguration configuration, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<UnsavedPreviewBody>(http.Request, ct);
        if (body is null) return error!;
        var caller = http.Caller();
        // A name is not needed to try an automation out (the wizard previews before one is typed).
        if (string.IsNullOrWhiteSpace(body.Name)) body.Name = UnsavedName;
        await using var c = await db.OpenConnectionAsync(ct);
        // The rules of a create, so a preview accepts exactly what could be saved (regex and template limits included).
        var (a, invalid) = await AutomationValidator.CheckAsync(body, caller.EntityId, c, team: project is null);
        if (a is null) return invalid!;
        var (sample, sampleError) = ReadSample(body.Sample, body.MetricHistory);
        if (sample is null) return sampleError!;
        var row = new AutomationRow
        {
            EntityId = caller.EntityId, Entity = caller.Entity, Project = project ?? "", Scope = project is null ? "team" : "project", ProjectRegex = a.ProjectRegex,
            Name = a.Name, Enabled = a.Enabled,
            EventType = a.EventType, Collection = a.Collection, AliasRegex = a.AliasRegex, TagRegex = a.TagRegex, RunFilterJson = a.RunFilterJson,
            ActionType = a.ActionType, WebhookId = a.WebhookId, Payload = a.Payload, JobId = a.JobId, JobVersion = a.JobVersion, QueueId = a.QueueId,
            TargetProject = a.TargetProject, OverridesJson = a.OverridesJson,
        };
        return await PreviewAsync(c, row, sample, configuration["Rules:RunUrlBase"], ct);
    }

    private static async Task<IResult> PreviewSavedAsync(string? project, Guid id, HttpContext http, NpgsqlDataSource db, IConfiguration configuration, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<PreviewBody>(http.Request, ct);
        if (body is null) return error!;
        var caller = http.Caller();
        await using var c = await db.OpenConnectionAsync(ct);
        var row = await AutomationQueries.FindAsync(c, caller.EntityId, project, id, ct);
        if (row is null) return Problems.NotFound("The automation");
        var (sample, sampleError) = ReadSample(body.Sample, body.MetricHistory);
        if (sample is null) return sampleError!;
        return await PreviewAsync(c, row, sample, configuration["Rules:RunUrlBase"], ct);
    }

    /// <summary>The sample checked by intake's own validator (<see cref="EventValidator"/>); its errors are named under <c>sample.</c>.</summary>
    private static (Sample? Sample, IResult? Error) ReadSample(JsonElement? sample, double[]? history)
    {
        const string What = "an artifact or run event, the JSON a producer sends to POST /v1/events";
        if (sample is not { ValueKind: not (JsonValueKind.Null or JsonValueKind.Undefined) } s) return (null, Problems.Invalid("sample", $"is required: {What}"));
        if (s.ValueKind != JsonValueKind.Object) return (null, Problems.Invalid("sample", $"must be a JSON object: {What}"));
        var checkedEvent = EventValidator.Validate(Encoding.UTF8.GetBytes(s.GetRawText()));
        var errors = new Errors();
        foreach (var e in checkedEvent.Errors) errors.Add(e.Field == "body" ? "sample" : "sample." + e.Field, e.Message);
        if (history is { Length: > MaxMetricHistory }) errors.Add("metricHistory", $"must have at most {MaxMetricHistory} values");
        else if (history is { Length: > 0 } && checkedEvent.Valid && checkedEvent.Run?.EventType != RunEventTypes.RunMetric)
            errors.Add("metricHistory", "is only for a RUN_METRIC sample (the values logged before the sample's, oldest first)");
        else if (history is not null && history.Any(v => !double.IsFinite(v))) errors.Add("metricHistory", "must hold finite numbers");
        if (errors.Any) return (null, errors.ToResult());
        var now = DateTimeOffset.UtcNow;
        return (new Sample(checkedEvent.Artifact?.ToReceived(Guid.CreateVersion7(), now), checkedEvent.Run?.ToReceived(Guid.CreateVersion7(), now), history ?? []), null);
    }

    private static async Task<IResult> PreviewAsync(NpgsqlConnection c, AutomationRow row, Sample sample, string? runUrlBase, CancellationToken ct)
    {
        var answer = new PreviewAnswer();
        var trigger = row.Trigger(AutomationValidator.RegexTimeout);
        Refused? refused;
        Func<string, string?> variables;
        string entity, project;
        if (sample.Artifact is { } e)
        {
            refused = Decide(trigger, () => trigger.Check(e), r => TriggerExplanation.Explain(trigger, r, e));
            variables = TemplateVariables.For(e, row.Name);
            (entity, project) = (e.Entity, e.Project);
        }
        else
        {
            var run = sample.Run!;
            refused = Decide(trigger, () => trigger.Check(run), r => TriggerExplanation.Explain(trigger, r, run));
            MetricFired? metric = null;
            if (refused is null && trigger.Condition is { } condition && run is { Step: { } step, Metrics: { } values })
            {
                var value = values[condition.Metric];
                var (outcome, evaluation) = MetricWindow.Replay(condition, sample.History, step, value);
                refused = TriggerExplanation.ExplainMetric(condition, outcome, evaluation, sample.History.Count + 1);
                if (evaluation is not null) metric = MetricFired.For(condition, evaluation);
                answer.Notes.Add(sample.History.Count == 0
                    ? $"The metric condition was evaluated on this one value ({condition.Metric} = {N(value)} at step {step}) as the run's first: Rules evaluates it on the run's newest {condition.Capacity} value(s) and fires when it starts to hold. Send the run's earlier values in metricHistory (oldest first) to see a window or a change."
                    : $"The metric condition was evaluated on {sample.History.Count} earlier value(s) from metricHistory and this one, as if the run logged them at steps {step - sample.History.Count} to {step}.");
            }
            else if (refused is null && run.EventType == RunEventTypes.RunState)
                answer.Notes.Add("Rules fires when a run enters this state: the preview assumes the run was in another state before (a repeated report of the same state does not fire).");
            variables = TemplateVariables.For(run, row.Name, runUrlBase, metric);
            (entity, project) = (run.Entity, run.Project);
        }

        // Rules looks only at the automations of the event's own entity and project (a team automation's: those of the
        // projects its project regex finds), and only at enabled ones.
        var projectRefusal = row.IsTeam ? TeamProjectRefusal(row.ProjectRegex, project) : null;
        if (row.IsTeam) answer.ProjectMatches = projectRefusal is null;
        if (refused is null && !string.Equals(entity, row.Entity, StringComparison.Ordinal))
            refused = new("sample.entity", $"the event is for the entity {Q(entity)}; the automation belongs to {Q(row.Entity)}, and Rules matches an entity's own events only");
        else if (refused is null && projectRefusal is not null)
            refused = projectRefusal;
        else if (refused is null && !row.IsTeam && !string.Equals(project, row.Project, StringComparison.Ordinal))
            refused = new("sample.project", $"the event is for the project {Q(project)}; the automation belongs to {Q(row.Project)}, and Rules matches a project's own events only");
        else if (refused is null && !row.Enabled)
            refused = new("enabled", "the automation is disabled: the event matches its filters, but Rules fires enabled automations only");
        answer.Matches = refused is null;
        answer.Refusal = refused is null ? null : new PreviewRefusal(refused.Field, refused.Reason);

        var template = row.ActionType == "launch" ? row.OverridesJson : row.Payload;
        if (RenderedSize(template, variables) is var size && size > MaxRenderedChars)
            return Problems.Invalid(row.ActionType == "launch" ? "action.overrides" : "action.payload",
                $"rendered with this sample it would be about {size} characters; a preview renders at most {MaxRenderedChars} (a template that repeats a large sample value multiplies it)");
        try
        {
            answer.Action = await ActionAsync(c, row, variables, answer.Notes, ct);
        }
        catch (JsonException)
        {
            // Saved before today's checks, say: Rules could not render it either. The type only: a message could quote the template.
            answer.Action = new PreviewAction { Type = row.ActionType, Effect = "the action's template is not valid JSON, so nothing can be rendered: save the automation again" };
        }
        return Results.Ok(answer);
    }

    /// <summary>The trigger's decision in words; a regex that times out refuses, as in Rules (which logs it and does not fire).</summary>
    private static Refused? Decide(AutomationTrigger trigger, Func<Refusal> check, Func<Refusal, Refused> explain)
    {
        try
        {
            var refusal = check();
            return refusal == Refusal.None ? null : explain(refusal);
        }
        catch (System.Text.RegularExpressions.RegexMatchTimeoutException ex)
        {
            return TriggerExplanation.TimedOut(trigger.TimedOut(ex), AutomationValidator.RegexTimeout);
        }
    }

    /// <summary>
    /// Whether a team automation watches <paramref name="project"/>, decided as Rules decides it (FilterRegex: a search,
    /// none for every project); null when it does, else why not. A pattern that times out or no longer compiles refuses,
    /// as Rules never fires it. Also what a project's automation list shows of the team's.
    /// </summary>
    internal static Refused? TeamProjectRefusal(string? projectRegex, string project)
    {
        try
        {
            return FilterRegex.Passes(FilterRegex.Compile(projectRegex, AutomationValidator.RegexTimeout), project)
                ? null
                : TriggerExplanation.Project(projectRegex, project);
        }
        catch (RegexMatchTimeoutException)
        {
            return TriggerExplanation.ProjectTimedOut(AutomationValidator.RegexTimeout);
        }
        catch (ArgumentException ex)
        {
            return TriggerExplanation.ProjectInvalid(ex.Message);
        }
    }

    /// <summary>The template's length plus each value its references take: an upper bound of the rendered text before JSON escaping.</summary>
    private static long RenderedSize(string? template, Func<string, string?> variables)
    {
        if (string.IsNullOrEmpty(template)) return 0;
        long size = template.Length;
        try
        {
            foreach (var name in PayloadTemplate.Names(template)) size += variables(name)?.Length ?? 0;
        }
        catch (JsonException)
        {
            // Not rendered at all (ActionAsync says why).
        }
        return size;
    }

    private sealed class WebhookInfo
    {
        public string Name { get; set; } = "";
        public string Url { get; set; } = "";
        public string Kind { get; set; } = "";
        public bool Signed { get; set; }
        public bool HasAccessToken { get; set; }
        public bool Disabled { get; set; }
    }

    private static async Task<PreviewAction> ActionAsync(NpgsqlConnection c, AutomationRow row, Func<string, string?> variables, List<string> notes, CancellationToken ct)
    {
        var action = new PreviewAction { Type = row.ActionType };
        switch (row.ActionType)
        {
            case "no_op":
                action.Effect = "a run is recorded as Finished; nothing is sent";
                return action;
            case "launch":
            {
                var names = await c.QuerySingleOrDefaultAsync<(string? Job, string? Queue)>(new CommandDefinition(
                    "select (select name from control.launch_jobs where id = @JobId) as Job, (select name from control.launch_queues where id = @QueueId) as Queue",
                    new { row.JobId, row.QueueId }, cancellationToken: ct));
                action.Job = names.Job;
                action.Queue = names.Queue;
                action.TargetProject = row.TargetProject;
                action.JobVersion = row.JobVersion ?? (row.JobId is { } jobId ? await AutomationQueries.LatestJobVersionAsync(c, null, jobId, ct) : null);
                if (row.JobVersion is null) notes.Add($"The automation names no job version: the job's newest version (now {action.JobVersion}) is used when it fires.");
                using (var doc = JsonDocument.Parse(ActionRendering.LaunchOverrides(row.OverridesJson, variables)))
                    action.Overrides = doc.RootElement.Clone();
                return action;
            }
        }

        // A webhook, or a notification (a webhook to its integration, with the payload made of its title, text and severity).
        var webhook = await c.QuerySingleOrDefaultAsync<WebhookInfo>(new CommandDefinition(
            """
            select name as Name, url as Url, kind as Kind, secret_id is not null as Signed, access_token_secret_id is not null as HasAccessToken,
                   disabled_at is not null as Disabled
            from control.webhooks where id = @id and entity_id = @entityId
            """, new { id = row.WebhookId, entityId = row.EntityId }, cancellationToken: ct));
        if (webhook is null)
        {
            action.Effect = "the webhook or integration this automation names no longer exists: nothing would be sent";
            return action;
        }
        action.Webhook = webhook.Name;
        action.Kind = webhook.Kind;
        if (webhook.Disabled) notes.Add($"The webhook {Q(webhook.Name)} is disabled: nothing is delivered until an admin re-enables it.");

        var sealedPayload = ActionRendering.WebhookPayload(row.Payload, variables);
        var secrets = PayloadTemplate.SecretReferences(sealedPayload).Distinct(StringComparer.Ordinal).ToList();
        if (secrets.Count > 0)
        {
            var known = (await c.QueryAsync<string>(new CommandDefinition(
                "select name from control.secrets where entity_id = @entityId and name = any(@secrets)", new { entityId = row.EntityId, secrets = secrets.ToArray() },
                cancellationToken: ct))).ToHashSet(StringComparer.Ordinal);
            foreach (var missing in secrets.Where(n => !known.Contains(n)))
                notes.Add($"The team has no secret {missing}: ${{{missing}}} would be sent as that text.");
        }
        action.SecretReferences = secrets;
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        action.Request = new PreviewRequest
        {
            // An integration's URL is a secret: the column holds only its masked form (the real one is encrypted).
            Url = webhook.Url,
            Headers = WebhookHeaders.Recorded(Guid.CreateVersion7().ToString(), timestamp, webhook.HasAccessToken,
                webhook.Signed ? SecretMask.Mask : null, webhook.Signed ? "v1," + SecretMask.Mask : null),
            // What the sender fills in, each secret kept as the reference the author wrote.
            Body = PayloadTemplate.ExpandSecrets(sealedPayload, name => $"${{{name}}}"),
        };
        notes.Add("webhook-id and webhook-timestamp are examples (a delivery keeps one webhook-id across its retries); the signatures and the access token are masked; traceparent carries the event's trace.");
        return action;
    }

    private static string N(double d) => d.ToString("G6", CultureInfo.InvariantCulture);

    private static string Q(string s) => JsonSerializer.Serialize(s);
}
