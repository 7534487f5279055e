using System.Text;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Templates;
using Automations.Core.Validation;
using Npgsql;
using static Automations.Api.WebConsole.Html;

namespace Automations.Api.WebConsole;

/// <summary>
/// A project's Automations tab (the list with its row menu, the New automation wizard, one automation's run history) and
/// the team's Automations page, the same pages for team automations (a null project below: the team scope). A project's
/// list shows the team automations that apply to it, marked "team" and linking to the team page, with no row menu.
/// </summary>
public static partial class AutomationPages
{
    /// <summary>W&amp;B's GitHub Actions example: a repository_dispatch body filled from the event.</summary>
    public const string RepositoryDispatchPayload =
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
        """;

    /// <summary>Both forms, since a filter is a search (W&amp;B's $regex), not a whole-alias match.</summary>
    public const string AliasHint = "Found anywhere in the alias: prod matches production and preprod; ^prod$ matches only the alias prod. Empty: every alias.";

    private const string DollarHint = "Type <code>$</code> to insert one as <code>${NAME}</code>; a bare <code>$NAME</code> is sent as that text, not a secret.";

    private static readonly (string Value, string Text)[] EventTypeOptions =
    [
        (EventTypes.CreateArtifact, "A new version is added to a collection (CREATE_ARTIFACT)"),
        (EventTypes.LinkArtifact, "A version is linked to a collection (LINK_ARTIFACT)"),
        (EventTypes.AddArtifactAlias, "An alias is added to a version (ADD_ARTIFACT_ALIAS)"),
        (RunEventTypes.RunState, "A run enters a state (RUN_STATE)"),
        (RunEventTypes.RunMetricThreshold, "A run metric crosses a threshold (RUN_METRIC_THRESHOLD)"),
        (RunEventTypes.RunMetricChange, "A run metric changes between windows (RUN_METRIC_CHANGE)"),
    ];

    private static readonly (string Value, string Text)[] RunStateOptions = [.. RunEventTypes.States.Select(st => (st, st))];
    private static readonly (string Value, string Text)[] AggOptions = [("LATEST", "latest value"), ("AVERAGE", "average"), ("MIN", "min"), ("MAX", "max")];
    private static readonly (string Value, string Text)[] CmpOptions = [("<", "<"), ("<=", "<="), (">", ">"), (">=", ">=")];
    private static readonly (string Value, string Text)[] ChangeTypeOptions = [("ABSOLUTE", "by an absolute amount"), ("RELATIVE", "by a fraction of the prior window (0.1 = 10 %)")];
    private static readonly (string Value, string Text)[] ChangeDirOptions = [("ANY", "either way"), ("INCREASE", "increases"), ("DECREASE", "decreases")];

    /// <summary>The run trigger's fields of the wizard (shown for the run event types only).</summary>
    private sealed record RunForm(string State, string RunNameRegex, string User, string Metric, string Agg, string Window, string Cmp, string Threshold,
        string PriorWindow, string ChangeType, string ChangeDir, string ChangeAmount)
    {
        public static RunForm Empty => new("finished", "", "", "", "LATEST", "1", ">", "", "", "ABSOLUTE", "ANY", "");

        public static RunForm From(IFormCollection f)
        {
            string V(string name) => f[name].ToString().Trim();
            return new(V("runState"), V("runNameRegex"), V("runUser"), V("metricName"), V("metricAgg"), V("metricWindow"), V("metricCmp"),
                V("metricThreshold"), V("metricPriorWindow"), V("metricChangeType"), V("metricChangeDir"), V("metricChangeAmount"));
        }

        /// <summary>Adds the run fields of <paramref name="eventType"/> to the API's event object; numbers that do not parse are form errors.</summary>
        public void AddTo(string eventType, Dictionary<string, object?> ev, Dictionary<string, List<string>> errors)
        {
            ev["runNameRegex"] = RunNameRegex.Length == 0 ? null : RunNameRegex;
            ev["user"] = User.Length == 0 ? null : User;
            if (eventType == RunEventTypes.RunState) { ev["state"] = State; return; }
            int? Int(string text, string field)
            {
                if (text.Length == 0) return null;
                if (int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n)) return n;
                errors[field] = ["must be a whole number"];
                return null;
            }
            double? Num(string text, string field)
            {
                if (text.Length == 0) return null;
                if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var d)) return d;
                errors[field] = ["must be a number"];
                return null;
            }
            var metric = new Dictionary<string, object?> { ["name"] = Metric.Length == 0 ? null : Metric, ["agg"] = Agg, ["window"] = Int(Window, "event.metric.window") };
            if (eventType == RunEventTypes.RunMetricThreshold)
            {
                metric["cmp"] = Cmp;
                metric["threshold"] = Num(Threshold, "event.metric.threshold");
            }
            else
            {
                metric["priorWindow"] = Int(PriorWindow, "event.metric.priorWindow");
                metric["changeType"] = ChangeType;
                metric["changeDir"] = ChangeDir;
                metric["changeAmount"] = Num(ChangeAmount, "event.metric.changeAmount");
            }
            ev["metric"] = metric;
        }
    }

    private static string Api(ConsoleSession s, string? project) => project is null
        ? $"/v1/entities/{ConsoleApi.Seg(s.Entity)}/automations"
        : $"/v1/entities/{ConsoleApi.Seg(s.Entity)}/projects/{ConsoleApi.Seg(project)}/automations";
    private static string Here(ConsoleSession s, string? project) => project is null
        ? $"/console/{ConsoleApi.Seg(s.Entity)}/automations"
        : $"/console/{ConsoleApi.Seg(s.Entity)}/projects/{ConsoleApi.Seg(project)}/automations";
    private static string Title(string? project, string page) => project is null ? $"Team · {page}" : $"{project} · {page}";

    public static RouteGroupBuilder MapAutomationPages(this RouteGroupBuilder g)
    {
        g.MapGet("/projects", ProjectsAsync);
        g.MapGet("/projects/{project}", (string project, HttpContext http) => Results.Redirect(Here(http.Session(), project)));
        g.MapGet("/projects/{project}/automations", (string project, HttpContext http, ConsoleApi api) => ListAsync(project, http, api));
        g.MapGet("/projects/{project}/automations/new", (string project, HttpContext http, ConsoleApi api) => WizardAsync(project, http, api, null, null));
        g.MapPost("/projects/{project}/automations/new", (string project, HttpContext http, ConsoleApi api) => CreateAsync(project, http, api));
        g.MapGet("/projects/{project}/automations/{id:guid}", (string project, Guid id, HttpContext http, ConsoleApi api) => DetailAsync(project, id, http, api));
        g.MapPost("/projects/{project}/automations/new/preview", (string project, HttpContext http, ConsoleApi api) => PreviewAsync(project, http, api));
        g.MapPost("/projects/{project}/automations/{id:guid}/enable", (string project, Guid id, HttpContext http, ConsoleApi api) => SetEnabledAsync(project, id, true, http, api));
        g.MapPost("/projects/{project}/automations/{id:guid}/disable", (string project, Guid id, HttpContext http, ConsoleApi api) => SetEnabledAsync(project, id, false, http, api));
        g.MapGet("/projects/{project}/automations/{id:guid}/delete", (string project, Guid id, HttpContext http, ConsoleApi api) => ConfirmDeleteAsync(project, id, http, api));
        g.MapPost("/projects/{project}/automations/{id:guid}/delete", (string project, Guid id, HttpContext http, ConsoleApi api) => DeleteAsync(project, id, http, api));
        g.MapPost("/projects/{project}/deliveries/{deliveryId:guid}/redeliver", (string project, Guid deliveryId, Guid? automation, HttpContext http, ConsoleApi api) =>
            RedeliverAsync(project, deliveryId, automation, http, api));

        g.MapGet("/automations", (HttpContext http, ConsoleApi api) => ListAsync(null, http, api));
        g.MapGet("/automations/new", (HttpContext http, ConsoleApi api) => WizardAsync(null, http, api, null, null));
        g.MapPost("/automations/new", (HttpContext http, ConsoleApi api) => CreateAsync(null, http, api));
        g.MapPost("/automations/new/preview", (HttpContext http, ConsoleApi api) => PreviewAsync(null, http, api));
        g.MapGet("/automations/{id:guid}", (Guid id, HttpContext http, ConsoleApi api) => DetailAsync(null, id, http, api));
        g.MapPost("/automations/{id:guid}/enable", (Guid id, HttpContext http, ConsoleApi api) => SetEnabledAsync(null, id, true, http, api));
        g.MapPost("/automations/{id:guid}/disable", (Guid id, HttpContext http, ConsoleApi api) => SetEnabledAsync(null, id, false, http, api));
        g.MapGet("/automations/{id:guid}/delete", (Guid id, HttpContext http, ConsoleApi api) => ConfirmDeleteAsync(null, id, http, api));
        g.MapPost("/automations/{id:guid}/delete", (Guid id, HttpContext http, ConsoleApi api) => DeleteAsync(null, id, http, api));
        g.MapPost("/automations/deliveries/{deliveryId:guid}/redeliver", (Guid deliveryId, Guid? automation, HttpContext http, ConsoleApi api) =>
            RedeliverAsync(null, deliveryId, automation, http, api));
        return g;
    }

    private static async Task<IResult> ProjectsAsync(HttpContext http, NpgsqlDataSource db, string? project)
    {
        var s = http.Session();
        Dictionary<string, List<string>>? errors = null;
        if (!string.IsNullOrWhiteSpace(project))
        {
            // The rule the Api and Ingestion apply: a project no event can name has no automations to open.
            if (NameRules.CheckProject(project.Trim()) is not { } rule) return Results.Redirect(Here(s, project.Trim()));
            errors = new() { ["project"] = [rule] };
        }
        var known = await ConsoleSetup.KnownProjectsAsync(db, s.Principal.EntityId, http.RequestAborted);
        var links = known.Count == 0 ? "<p>No project has automations yet.</p>"
            : "<ul id=\"projects\">" + string.Concat(known.Select(p => $"""<li><a href="{Here(s, p)}">{E(p)}</a></li>""")) + "</ul>";
        var body = $"""
            <section aria-labelledby="open-h"><h2 id="open-h">Open a project</h2>
            <form method="get" action="/console/{E(ConsoleApi.Seg(s.Entity))}/projects">
            {Input("Project name", "project", "project", project, errors, "project", required: true)}<button type="submit">Open Automations</button></form></section>
            <section aria-labelledby="known-h"><h2 id="known-h">Projects with automations</h2>{links}</section>
            """;
        return Page(http, "Projects", body, s, errors is null ? 200 : 400);
    }

    private static async Task<IResult> ListAsync(string? project, HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        var list = await api.GetAsync(s.Key, Api(s, project), http.RequestAborted);
        if (!list.Ok) return Error(http, (int)list.Status, "Automations", list.Detail, s);
        var rows = new StringBuilder();
        foreach (var a in Items(list.Body))
        {
            var id = Str(a, "id");
            var enabled = a.TryGetProperty("enabled", out var en) && en.ValueKind == JsonValueKind.True;
            var toggle = enabled ? "disable" : "enable";
            var projects = Str(a, "projectRegex").Length > 0 ? $"<code>{E(a, "projectRegex")}</code>" : "every project";
            if (project is not null && Str(a, "scope") == "team")
            {
                // Read-only here: a team automation is changed on the team page, by an admin.
                rows.Append($"""
                    <tr data-id="{E(id)}" data-scope="team"><td data-label="Name"><a href="{Here(s, null)}/{E(id)}">{E(a, "name")}</a> <span class="badge">team</span></td><td data-label="Trigger">{E(a, "triggerType")}</td><td data-label="Action type">{E(a, "actionType")}</td>
                    <td data-label="Action name">{E(a, "actionName")}</td><td data-label="Queue">{E(a, "queue")}</td><td data-label="Enabled"><span class="badge {(enabled ? "on" : "off")}">{(enabled ? "enabled" : "disabled")}</span></td>
                    <td data-label="Menu"><a href="{Here(s, null)}/{E(id)}">Team automation</a></td></tr>
                    """);
                continue;
            }
            // Team automations are changed by admins only: a member's team page has no menu (the API would answer 403).
            var menu = project is null && !s.IsAdmin ? "" : $"""
                <details class="menu"><summary aria-label="Actions for {E(a, "name")}">Actions</summary><div class="row-actions">
                <form method="post" action="{Here(s, project)}/{E(id)}/{toggle}">{Csrf(http)}<button type="submit" class="secondary" name="toggle">{(enabled ? "Disable" : "Enable")}</button></form>
                <a class="button secondary" href="{Here(s, project)}/{E(id)}/delete">Delete</a></div></details>
                """;
            rows.Append($"""
                <tr data-id="{E(id)}"><td data-label="Name"><a href="{Here(s, project)}/{E(id)}">{E(a, "name")}</a>{(project is null ? $" <small>({projects})</small>" : "")}</td><td data-label="Trigger">{E(a, "triggerType")}</td><td data-label="Action type">{E(a, "actionType")}</td>
                <td data-label="Action name">{E(a, "actionName")}</td><td data-label="Queue">{E(a, "queue")}</td><td data-label="Enabled"><span class="badge {(enabled ? "on" : "off")}">{(enabled ? "enabled" : "disabled")}</span></td>
                <td data-label="Menu">{menu}</td></tr>
                """);
        }
        var table = rows.Length == 0 ? (project is null ? "<p>No team automations yet.</p>" : "<p>No automations in this project yet.</p>")
            : $"""
              <div class="table"><table id="automations" class="stack"><thead><tr><th scope="col">Name</th><th scope="col">Trigger type</th><th scope="col">Action type</th>
              <th scope="col">Action name</th><th scope="col">Queue</th><th scope="col">Enabled</th><th scope="col">Menu</th></tr></thead><tbody>{rows}</tbody></table></div>
              """;
        var intro = project is null
            ? "<p>Team automations watch every project of the team, those created later too, narrowed by a project regex. Only team admins create and change them.</p>"
            : $"""<p>Team automations that apply to this project are marked <span class="badge">team</span>; they are changed on the <a href="{Here(s, null)}">team automations</a> page.</p>""";
        var create = project is null && !s.IsAdmin ? "" : $"""<p><a class="button" href="{Here(s, project)}/new">{(project is null ? "New team automation" : "New automation")}</a></p>""";
        var body = $"""
            {create}{intro}
            <section aria-labelledby="list-h"><h2 id="list-h">{(project is null ? "Team automations" : "Automations")}</h2>{table}</section>
            """;
        return Page(http, Title(project, "Automations"), body, s);
    }

    private sealed record WizardForm(
        string EventType, string Collection, string AliasRegex, string ActionType, string Webhook, string Payload,
        string Job, string JobVersion, string Overrides, string TargetProject, string Queue, string Name, string Description,
        string Integration = "", string Title = "", string Text = "", string Severity = "info", string ProjectRegex = "")
    {
        public RunForm Run { get; init; } = RunForm.Empty;

        public static WizardForm Empty => new(EventTypes.CreateArtifact, "", "", "webhook", "", RepositoryDispatchPayload, "", "", "", "", "", "", "",
            Title: "New version of ${artifact_collection_name}", Text: "${artifact_version_string} by ${event_author}");

        public static WizardForm From(IFormCollection f) => new(f["eventType"].ToString(), f["collection"].ToString().Trim(), f["aliasRegex"].ToString().Trim(),
            f["actionType"].ToString(), f["webhook"].ToString(), f["payload"].ToString(), f["job"].ToString(), f["jobVersion"].ToString().Trim(),
            f["overrides"].ToString().Trim(), f["targetProject"].ToString().Trim(), f["queue"].ToString(), f["name"].ToString().Trim(), f["description"].ToString().Trim(),
            f["integration"].ToString().Trim(), f["title"].ToString(), f["text"].ToString(), f["severity"].ToString(), f["projectRegex"].ToString().Trim())
        {
            Run = RunForm.From(f),
        };

        /// <summary>The API body; fields of the other branch are left out so they are not validated.</summary>
        public (object? Body, Dictionary<string, List<string>> Errors) ToBody()
        {
            var errors = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            var ev = new Dictionary<string, object?> { ["type"] = EventType };
            if (EventType == EventTypes.AddArtifactAlias) ev["aliasRegex"] = NullIfEmpty(AliasRegex);
            else if (RunEventTypes.IsTrigger(EventType)) Run.AddTo(EventType, ev, errors);
            else ev["collection"] = NullIfEmpty(Collection);
            if (ProjectRegex.Length > 0) ev["projectRegex"] = ProjectRegex;
            object action;
            if (ActionType == "launch")
            {
                int? version = null;
                if (JobVersion.Length > 0)
                {
                    if (int.TryParse(JobVersion, out var v)) version = v;
                    else errors["action.jobVersion"] = ["must be a whole number"];
                }
                JsonElement? overrides = null;
                if (Overrides.Length > 0)
                {
                    try { overrides = JsonDocument.Parse(Overrides).RootElement.Clone(); }
                    catch (JsonException) { errors["action.overrides"] = ["is not valid JSON (a JSON object is expected)"]; }
                }
                action = new { type = "launch", job = NullIfEmpty(Job), jobVersion = version, queue = NullIfEmpty(Queue), targetProject = NullIfEmpty(TargetProject), overrides };
            }
            else if (ActionType == "notification")
                action = new { type = "notification", integration = NullIfEmpty(Integration), title = NullIfEmpty(Title), text = NullIfEmpty(Text), severity = NullIfEmpty(Severity) };
            else if (ActionType == "no_op") action = new { type = "no_op" };
            else action = new { type = ActionType, webhook = NullIfEmpty(Webhook), payload = Payload };
            return (errors.Count > 0 ? null : new { name = Name, description = NullIfEmpty(Description), enabled = true, @event = ev, action }, errors);
        }

        private static string? NullIfEmpty(string s) => s.Length == 0 ? null : s;
    }

    private static readonly Dictionary<string, string> FieldIds = new(StringComparer.OrdinalIgnoreCase)
    {
        ["name"] = "automation-name", ["description"] = "description", ["event.type"] = "event-type", ["event.collection"] = "collection",
        ["event.aliasRegex"] = "alias-regex", ["event.projectRegex"] = "project-regex", ["action.webhook"] = "webhook", ["action.payload"] = "payload", ["action.job"] = "job",
        ["action.jobVersion"] = "job-version", ["action.overrides"] = "overrides", ["action.targetProject"] = "target-project", ["action.queue"] = "queue",
        ["event.state"] = "run-state", ["event.runNameRegex"] = "run-name-regex", ["event.user"] = "run-user", ["event.metric"] = "metric-name",
        ["event.metric.name"] = "metric-name", ["event.metric.agg"] = "metric-agg", ["event.metric.window"] = "metric-window", ["event.metric.cmp"] = "metric-cmp",
        ["event.metric.threshold"] = "metric-threshold", ["event.metric.priorWindow"] = "metric-prior-window", ["event.metric.changeType"] = "metric-change-type",
        ["event.metric.changeDir"] = "metric-change-dir", ["event.metric.changeAmount"] = "metric-change-amount",
        ["action.integration"] = "integration", ["action.title"] = "title", ["action.text"] = "text", ["action.severity"] = "severity",
    };

    private static readonly (string, string)[] SeverityOptions = [("info", "Info"), ("warning", "Warning"), ("error", "Error")];

    private const string WizardScript =
        """
        <script>
        (function(){var f=document.getElementById('new-automation');if(!f)return;
        function sync(){var ev=f.eventType.value,act=(f.querySelector('input[name=actionType]:checked')||{}).value;
        f.querySelectorAll('[data-event]').forEach(function(e){e.hidden=e.getAttribute('data-event').split(' ').indexOf(ev)<0;});
        f.querySelectorAll('[data-action]').forEach(function(e){e.hidden=e.getAttribute('data-action')!==act;});}
        f.addEventListener('change',sync);sync();})();
        (function(){var t=document.getElementById('payload');if(!t)return;
        var names=JSON.parse(t.getAttribute('data-complete')||'[]');if(!names.length)return;
        var box=document.createElement('ul');box.id='payload-complete';box.className='complete';box.hidden=true;
        box.setAttribute('role','listbox');box.setAttribute('aria-label','Insert a secret or a variable');
        t.parentNode.insertBefore(box,t.nextSibling);t.setAttribute('aria-controls','payload-complete');t.setAttribute('aria-autocomplete','list');
        var start=-1,sel=0,shown=[];
        function close(){box.hidden=true;start=-1;t.removeAttribute('aria-activedescendant');}
        function render(){var q=t.value.slice(start+1,t.selectionStart).replace(/^\{/,'');
        if(t.value[start]!=='$'||t.selectionStart<=start||/[^A-Za-z0-9_]/.test(q)){close();return;}
        shown=names.filter(function(n){return n.name.toLowerCase().indexOf(q.toLowerCase())===0;});
        if(!shown.length){box.hidden=true;return;}
        if(sel>=shown.length)sel=0;box.textContent='';
        shown.forEach(function(n,i){var li=document.createElement('li');li.id='payload-option-'+i;li.setAttribute('role','option');
        li.textContent='${'+n.name+'}';var k=document.createElement('small');k.textContent=' '+n.kind;li.appendChild(k);
        if(i===sel){li.setAttribute('aria-selected','true');t.setAttribute('aria-activedescendant',li.id);}
        li.addEventListener('mousedown',function(e){e.preventDefault();insert(n.name);});box.appendChild(li);});
        box.hidden=false;}
        function insert(name){t.setRangeText('${'+name+'}',start,t.selectionStart,'end');close();t.focus();}
        t.addEventListener('input',function(){var p=t.selectionStart;
        if(start<0){if(p>0&&t.value[p-1]==='$'){start=p-1;sel=0;}else return;}
        render();});
        t.addEventListener('keydown',function(e){if(box.hidden)return;
        if(e.key==='ArrowDown'){sel=(sel+1)%shown.length;render();e.preventDefault();}
        else if(e.key==='ArrowUp'){sel=(sel+shown.length-1)%shown.length;render();e.preventDefault();}
        else if(e.key==='Enter'||e.key==='Tab'){insert(shown[sel].name);e.preventDefault();}
        else if(e.key==='Escape'){close();e.preventDefault();}});
        t.addEventListener('blur',close);})();
        </script>
        """;

    private static async Task<IResult> WizardAsync(string? project, HttpContext http, ConsoleApi api, WizardForm? form, Dictionary<string, List<string>>? errors,
        string? preview = null)
    {
        var s = http.Session();
        if (project is null && !s.IsAdmin) return Error(http, 403, "Forbidden", "Only a team admin can create team automations.", s);
        form ??= WizardForm.Empty;
        var ct = http.RequestAborted;
        var entityApi = $"/v1/entities/{ConsoleApi.Seg(s.Entity)}";
        var webhooks = await api.GetAsync(s.Key, entityApi + "/webhooks", ct);
        var jobs = await api.GetAsync(s.Key, entityApi + "/jobs", ct);
        var queues = await api.GetAsync(s.Key, entityApi + "/queues", ct);
        // Secret names are for admins (the API answers 403 to members): members see the variables only.
        var secrets = s.IsAdmin ? await api.GetAsync(s.Key, entityApi + "/secrets", ct) : null;
        // Integrations are listed to admins only; a member names one.
        var integrations = s.IsAdmin ? await api.GetAsync(s.Key, entityApi + "/integrations", ct) : null;
        var secretNames = secrets is { Ok: true } ? Items(secrets.Body).Select(x => Str(x, "name")).ToList() : [];

        static List<(string, string)> Names(ApiAnswer a, string none) =>
            [("", none), .. Items(a.Body).Select(x => (Str(x, "name"), Str(x, "name")))];

        var radio = (string value, string text) =>
            $"""<label class="radio"><input type="radio" name="actionType" value="{value}"{(form.ActionType == value ? " checked" : "")}> {E(text)}</label>""";
        var integrationField = integrations is { Ok: true }
            ? Select("Integration", "integration", "integration", form.Integration, Names(integrations, "(choose an integration)"), errors, "action.integration")
            : Input("Integration", "integration", "integration", form.Integration, errors, "action.integration", hint: "The name of a Slack or Teams integration (team admins add them)");
        var vars = string.Concat(TemplateVariables.Names.Select(n => $"<code>${{{E(n)}}}</code>")) + "<code>${artifact_metadata.KEY}</code>"
            + "<br>Run events: " + string.Concat(TemplateVariables.RunNames.Select(n => $"<code>${{{E(n)}}}</code>"));
        var secretList = s.IsAdmin
            ? (secretNames.Count == 0 ? "none yet" : string.Concat(secretNames.Select(n => $"<code>${{{E(n)}}}</code>")))
            : "visible to team admins";
        // What typing `$` in the editor offers: the team's secret names (admins only, as above; never a value) and the variables.
        var complete = JsonSerializer.Serialize(secretNames.Select(n => new { name = n, kind = "secret" })
            .Concat(TemplateVariables.Names.Select(n => new { name = n, kind = "variable" })));
        var body = $"""
            <p><a href="{Here(s, project)}">← Automations</a></p>
            <form method="post" action="{Here(s, project)}/new" id="new-automation" novalidate>{Csrf(http)}
            {ErrorSummary(errors, FieldIds)}
            <fieldset><legend>1. Event</legend>
            {(project is null ? Input("Project regex (optional)", "projectRegex", "project-regex", form.ProjectRegex, errors, "event.projectRegex",
                hint: "Searched in the project's name, for projects created later too: ^prod- for names that start so. Empty: every project of the team.") : "")}
            {Select("Event type", "eventType", "event-type", form.EventType, EventTypeOptions, errors, "event.type")}
            <div data-event="{EventTypes.CreateArtifact} {EventTypes.LinkArtifact}">{Input("Collection", "collection", "collection", form.Collection, errors, "event.collection", hint: "The artifact collection (or registry collection for links) whose new versions trigger this")}</div>
            <div data-event="{EventTypes.AddArtifactAlias}">{Input("Alias regex", "aliasRegex", "alias-regex", form.AliasRegex, errors, "event.aliasRegex", hint: AliasHint)}</div>
            <div data-event="{RunEventTypes.RunState}">{Select("Run state", "runState", "run-state", form.Run.State, RunStateOptions, errors, "event.state")}</div>
            <div data-event="{RunEventTypes.RunState} {RunEventTypes.RunMetricThreshold} {RunEventTypes.RunMetricChange}">
            {Input("Run name regex (optional)", "runNameRegex", "run-name-regex", form.Run.RunNameRegex, errors, "event.runNameRegex", hint: "Searched in the run's name: ^sweep- for names that start so")}
            {Input("User (optional)", "runUser", "run-user", form.Run.User, errors, "event.user", hint: "Only runs of this user")}</div>
            <div data-event="{RunEventTypes.RunMetricThreshold} {RunEventTypes.RunMetricChange}">
            {Input("Metric", "metricName", "metric-name", form.Run.Metric, errors, "event.metric.name", hint: "The logged metric's name, e.g. val_loss")}
            {Select("Aggregate", "metricAgg", "metric-agg", form.Run.Agg, AggOptions, errors, "event.metric.agg")}
            {Input("Window (values)", "metricWindow", "metric-window", form.Run.Window, errors, "event.metric.window", type: "number", hint: "The last N logged values (the current window of a change)")}</div>
            <div data-event="{RunEventTypes.RunMetricThreshold}">
            {Select("Comparison", "metricCmp", "metric-cmp", form.Run.Cmp, CmpOptions, errors, "event.metric.cmp")}
            {Input("Threshold", "metricThreshold", "metric-threshold", form.Run.Threshold, errors, "event.metric.threshold")}</div>
            <div data-event="{RunEventTypes.RunMetricChange}">
            {Input("Prior window (values)", "metricPriorWindow", "metric-prior-window", form.Run.PriorWindow, errors, "event.metric.priorWindow", type: "number", hint: "The N values before the current window; empty: the window's size")}
            {Select("Change", "metricChangeType", "metric-change-type", form.Run.ChangeType, ChangeTypeOptions, errors, "event.metric.changeType")}
            {Select("Direction", "metricChangeDir", "metric-change-dir", form.Run.ChangeDir, ChangeDirOptions, errors, "event.metric.changeDir")}
            {Input("Amount", "metricChangeAmount", "metric-change-amount", form.Run.ChangeAmount, errors, "event.metric.changeAmount")}</div>
            {FieldErrors(errors, "event", "event")}</fieldset>
            <fieldset><legend>2. Action type</legend><div role="radiogroup" aria-label="Action type">{radio("webhook", "Webhook")} {radio("launch", "Jobs (Launch)")} {radio("notification", "Slack or Teams notification")} {radio("no_op", "Do nothing (try the trigger)")}</div>
            {FieldErrors(errors, "action.type", "action-type")}</fieldset>
            <fieldset data-action="webhook"><legend>3. Webhook</legend>
            {Select("Webhook", "webhook", "webhook", form.Webhook, Names(webhooks, "(choose a webhook)"), errors, "action.webhook")}
            <div class="field"><label for="payload">Payload (JSON template)</label>
            <small id="payload-hint" class="vars">Variables: {vars}<br>Team secrets: {secretList}<br>{DollarHint}</small>
            <textarea id="payload" name="payload" spellcheck="false" data-complete="{E(complete)}" aria-describedby="payload-hint{(errors?.ContainsKey("action.payload") == true ? " payload-error" : "")}">{E(form.Payload)}</textarea>
            {FieldErrors(errors, "action.payload", "payload")}</div></fieldset>
            <fieldset data-action="launch"><legend>3. Job</legend>
            {Select("Job", "job", "job", form.Job, Names(jobs, "(choose a job)"), errors, "action.job")}
            {Input("Job version", "jobVersion", "job-version", form.JobVersion, errors, "action.jobVersion", type: "number")}
            <div class="field"><label for="overrides">Config overrides (JSON object, optional)</label>
            <textarea id="overrides" name="overrides" spellcheck="false" style="min-height:5rem">{E(form.Overrides)}</textarea>{FieldErrors(errors, "action.overrides", "overrides")}</div>
            {Input("Target project (optional)", "targetProject", "target-project", form.TargetProject, errors, "action.targetProject")}
            {Select("Queue", "queue", "queue", form.Queue, Names(queues, "(choose a queue)"), errors, "action.queue")}</fieldset>
            <fieldset data-action="notification"><legend>3. Notification</legend>
            {integrationField}
            {Input("Title", "title", "title", form.Title, errors, "action.title", hint: "Same variables and secrets as a payload; at most 128 characters")}
            <div class="field"><label for="text">Text (Slack mrkdwn)</label><textarea id="text" name="text" style="min-height:5rem">{E(form.Text)}</textarea>{FieldErrors(errors, "action.text", "text")}</div>
            {Select("Severity", "severity", "severity", form.Severity, SeverityOptions, errors, "action.severity")}</fieldset>
            <fieldset data-action="no_op"><legend>3. Do nothing</legend><p>Each matching event records a finished run in the history and sends nothing: a safe way to try a trigger.</p></fieldset>
            <fieldset><legend>4. Details</legend>
            {Input("Automation name", "name", "automation-name", form.Name, errors, "name", required: true)}
            <div class="field"><label for="description">Description (optional)</label><textarea id="description" name="description" style="min-height:4rem">{E(form.Description)}</textarea>{FieldErrors(errors, "description", "description")}</div>
            </fieldset>
            <button type="submit">Create automation</button>
            {preview ?? PreviewSection(s, project, DefaultSample(s, project), null, null)}</form>
            {WizardScript}
            """;
        return Page(http, Title(project, "New automation"), body, s, errors is null ? 200 : 400);
    }

    private static async Task<IResult> CreateAsync(string? project, HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        var form = WizardForm.From(await http.Request.ReadFormAsync(http.RequestAborted));
        var (body, errors) = form.ToBody();
        if (body is null) return await WizardAsync(project, http, api, form, errors);
        var answer = await api.PostAsync(s.Key, Api(s, project), body, http.RequestAborted);
        if (!answer.Ok) return await WizardAsync(project, http, api, form, answer.Errors());
        var warnings = answer.Body.TryGetProperty("warnings", out var w) ? Items(w).Select(x => Str(x, "message")).ToList() : [];
        if (warnings.Count == 0) return Results.Redirect(Here(s, project));
        // Saved, but maybe not as its author expects: say so before going on (the API answered why).
        var page = $"""
            <div class="notice" role="status" id="saved-warnings"><strong>The automation was saved. Check:</strong><ul>{string.Concat(warnings.Select(m => $"<li>{E(m)}</li>"))}</ul></div>
            <p class="row-actions"><a class="button" href="{Here(s, project)}/{E(answer.Body, "id")}">Open the automation</a><a class="button secondary" href="{Here(s, project)}">← Automations</a></p>
            """;
        return Page(http, "Automation saved", page, s);
    }

    private static async Task<IResult> SetEnabledAsync(string? project, Guid id, bool enabled, HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        var answer = await api.PostAsync(s.Key, $"{Api(s, project)}/{id}/{(enabled ? "enable" : "disable")}", null, http.RequestAborted);
        if (!answer.Ok) return Error(http, (int)answer.Status, "Automation", answer.Detail, s);
        return Results.Redirect(Here(s, project));
    }

    private static async Task<IResult> ConfirmDeleteAsync(string? project, Guid id, HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        var a = await api.GetAsync(s.Key, $"{Api(s, project)}/{id}", http.RequestAborted);
        if (!a.Ok) return Error(http, (int)a.Status, "Automation", a.Detail, s);
        var body = $"""
            <section role="alertdialog" aria-labelledby="confirm-h"><h2 id="confirm-h">Delete the automation “{E(a.Body, "name")}”?</h2>
            <p>It stops matching new events at once. Runs already in progress continue and finish.</p>
            <form method="post" action="{Here(s, project)}/{id}/delete" class="row-actions">{Csrf(http)}
            <button type="submit" class="danger" id="confirm-delete">Delete automation</button><a class="button secondary" href="{Here(s, project)}">Cancel</a></form></section>
            """;
        return Page(http, "Delete automation", body, s);
    }

    private static async Task<IResult> DeleteAsync(string? project, Guid id, HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        var answer = await api.DeleteAsync(s.Key, $"{Api(s, project)}/{id}", http.RequestAborted);
        if (!answer.Ok) return Error(http, (int)answer.Status, "Automation", answer.Detail, s);
        return Results.Redirect(Here(s, project));
    }

    private static async Task<IResult> DetailAsync(string? project, Guid id, HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        var ct = http.RequestAborted;
        var a = await api.GetAsync(s.Key, $"{Api(s, project)}/{id}", ct);
        if (!a.Ok) return Error(http, (int)a.Status, "Automation", a.Detail, s);
        var runs = await api.GetAsync(s.Key, $"{Api(s, project)}/{id}/runs?limit=20", ct);
        var ev = a.Body.GetProperty("event");
        var action = a.Body.GetProperty("action");
        var isWebhook = Str(action, "type") == "webhook";

        // Each webhook run's delivery (matched by run id) with its attempts.
        var deliveries = new Dictionary<string, JsonElement>(StringComparer.OrdinalIgnoreCase);
        var runItems = runs.Ok && runs.Body.TryGetProperty("runs", out var rr) ? Items(rr).ToList() : [];
        var webhookIds = runItems.Select(r => r.TryGetProperty("action", out var ra) ? Str(ra, "webhookId") : "").Where(w => w.Length > 0).Distinct();
        foreach (var w in webhookIds)
        {
            var list = await api.GetAsync(s.Key, $"/v1/entities/{ConsoleApi.Seg(s.Entity)}/webhooks/{w}/deliveries?limit=200", ct);
            foreach (var d in Items(list.Body)) deliveries.TryAdd(Str(d, "runId"), d);
        }

        var rows = new StringBuilder();
        foreach (var r in runItems)
        {
            var attempts = "";
            if (deliveries.TryGetValue(Str(r, "id"), out var d))
            {
                var full = await api.GetAsync(s.Key, $"/v1/entities/{ConsoleApi.Seg(s.Entity)}/deliveries/{Str(d, "id")}", ct);
                var log = full.Ok && full.Body.TryGetProperty("attemptLog", out var al) ? Items(al) : [];
                attempts = $"""<p>Delivery <span class="badge">{E(d, "status")}</span></p>""" + "<ol class=\"attempts\">" + string.Concat(log.Select(t =>
                    $"""<li>{Time(t, "startedAt")} · {(Str(t, "statusCode").Length > 0 ? "HTTP " + E(t, "statusCode") : E(t, "error"))} · {(t.TryGetProperty("durationMs", out var dm) && dm.TryGetDouble(out var dv) ? dv.ToString("0", System.Globalization.CultureInfo.InvariantCulture) : "")} ms{(Str(t, "responseBody").Length > 0 ? $"<pre>{E(t, "responseBody")}</pre>" : "")}{(t.TryGetProperty("responseTruncated", out var cut) && cut.ValueKind == JsonValueKind.True ? " <small>(truncated)</small>" : "")}</li>""")) + "</ol>";
                if (s.IsAdmin && Str(d, "status") != "pending")
                    attempts += $"""<form method="post" action="{(project is null ? E(Here(s, null)) : $"/console/{E(ConsoleApi.Seg(s.Entity))}/projects/{E(ConsoleApi.Seg(project))}")}/deliveries/{E(Str(d, "id"))}/redeliver?automation={id}">{Csrf(http)}<button type="submit" class="secondary">Redeliver</button></form>""";
            }
            var evt = r.TryGetProperty("event", out var re) ? re : default;
            var version = Str(evt, "versionIndex").Length > 0 ? ":v" + Str(evt, "versionIndex") : "";
            var alias = Str(evt, "alias").Length > 0 ? " alias " + Str(evt, "alias") : "";
            var evText = $"{Str(evt, "eventType")} {Str(evt, "collection")}{version}{alias}".Trim();
            rows.Append($"""
                <tr><td data-label="When">{Time(r, "createdAt")}</td><td data-label="Event">{(project is null ? E(r, "project") + " · " : "")}{E(evText.Length > 0 ? evText : Str(evt, "eventId"))}</td>
                <td data-label="Status"><span class="badge">{E(r, "status")}</span> {E(r, "reason")}</td><td data-label="Attempts">{attempts}</td></tr>
                """);
        }
        var history = !runs.Ok ? $"""<p class="error">{E(runs.Detail)}</p>"""
            : rows.Length == 0 ? "<p>No runs yet.</p>"
            : $"""<div class="table"><table id="runs" class="stack"><thead><tr><th scope="col">When</th><th scope="col">Event</th><th scope="col">Status</th><th scope="col">Attempts and responses</th></tr></thead><tbody>{rows}</tbody></table></div>""";
        var actionText = isWebhook
            ? $"""Webhook <strong>{E(action, "webhook")}</strong><pre>{E(action, "payload")}</pre>"""
            : Str(action, "type") == "no_op" ? "Do nothing (each match records a finished run)"
            : Str(action, "type") == "notification"
            ? $"""Notify <strong>{E(action, "integration")}</strong> ({E(action, "severity")}): <strong>{E(action, "title")}</strong><pre>{E(action, "text")}</pre>"""
            : $"""Job <strong>{E(action, "job")}</strong> v{E(action, "jobVersion")} on queue <strong>{E(action, "queue")}</strong>{(Str(action, "targetProject").Length > 0 ? " → project " + E(action, "targetProject") : "")}""";
        var enabled = a.Body.TryGetProperty("enabled", out var en) && en.ValueKind == JsonValueKind.True;
        var body = $"""
            <p><a href="{Here(s, project)}">← Automations</a></p>
            <section><p>{E(a.Body, "description")}</p>
            {(Str(a.Body, "scope") == "team" ? $"<p><span class=\"badge\">team</span> In {(Str(ev, "projectRegex").Length > 0 ? "every project whose name matches <code>" + E(ev, "projectRegex") + "</code>" : "every project of the team")}, those created later too.</p>" : "")}
            <p>When <strong>{E(ev, "type")}</strong>{(Str(ev, "collection").Length > 0 ? " in collection <code>" + E(ev, "collection") + "</code>" : "")}{(Str(ev, "aliasRegex").Length > 0 ? " with alias matching <code>" + E(ev, "aliasRegex") + "</code>" : "")}</p>
            <p>{actionText}</p><p><span class="badge {(enabled ? "on" : "off")}">{(enabled ? "enabled" : "disabled")}</span></p></section>
            <section aria-labelledby="runs-h"><h2 id="runs-h">Run history</h2>{(runs.Ok ? Reach(runs.Body) : "")}{history}</section>
            """;
        return Page(http, Str(a.Body, "name"), body, s);
    }

    private static async Task<IResult> RedeliverAsync(string? project, Guid deliveryId, Guid? automation, HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        var answer = await api.PostAsync(s.Key, $"/v1/entities/{ConsoleApi.Seg(s.Entity)}/deliveries/{deliveryId}/redeliver", null, http.RequestAborted);
        if (!answer.Ok) return Error(http, (int)answer.Status, "Redeliver", answer.Detail, s);
        return Results.Redirect(automation is { } a ? $"{Here(s, project)}/{a}" : Here(s, project));
    }
}
