using System.Text.Json.Nodes;
using Automations.Api.AuditTrail;
using Automations.Api.Http;
using Automations.Api.Launch;
using Automations.Api.ProjectAutomations;
using Automations.Api.Webhooks;
using Automations.Core.Runs;
using Automations.Core.Secrets;
using Automations.Core.Validation;
using Automations.Persistence.Control;
using Dapper;
using Npgsql;

namespace Automations.Api.TeamConfig;

/// <summary>
/// Plan and apply of a configuration file, one code path for both: in one transaction, under a per-team lock, it
/// validates every object with the rule its own endpoint uses and writes it with that endpoint's statement, in
/// dependency order (queues, webhooks, integrations, automations, team automations, then the deletions of prune), so an automation sees
/// the webhook the same file creates. Any error rolls everything back; a plan always rolls back. An apply commits with
/// AutomationsChanged for every project whose automations (or their webhooks) changed, through the control write unit.
/// </summary>
public static class ConfigSync
{
    /// <summary>The first key of the per-team advisory lock (the second is the team): "TCFG".</summary>
    private const int LockClass = 0x54434647;

    public sealed record Options(bool Apply, bool Prune, string? ExpectedVersion, bool Force);

    /// <summary>One object's fate: create, update, delete, unchanged, or unmanaged (live, not in the file, kept without prune).</summary>
    public sealed record Change(string Kind, string Name, string? Project, string? Path, string Action, IReadOnlyList<string> Fields);

    public sealed class Outcome
    {
        public Errors? Errors { get; init; }
        /// <summary>Set when the live state is not the one the caller planned against: its version now.</summary>
        public string? StaleVersion { get; init; }
        /// <summary>Set when a concurrent change through another endpoint collided with this apply.</summary>
        public string? Collision { get; init; }
        public List<Change> Changes { get; init; } = [];
        public string Version { get; init; } = "";
        public string? VersionAfter { get; init; }
    }

    public static class Actions
    {
        public const string Create = "create", Update = "update", Delete = "delete", Unchanged = "unchanged", Unmanaged = "unmanaged";
    }

    public static async Task<Outcome> RunAsync(HttpContext http, NpgsqlDataSource db, SecretCipher? cipher, ApiKeyPrincipal caller, ConfigFile file,
        Options options, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        // Two applies of one team wait for each other here; each then reads what the other committed (read committed).
        await c.ExecuteAsync("select pg_advisory_xact_lock(@LockClass, hashtext(@team))", new { LockClass, team = caller.EntityId.ToString() }, tx);
        var live = await LiveState.LoadAsync(c, tx, caller.EntityId, caller.Entity);
        var version = live.Version();
        if (options.Apply && !options.Force && options.ExpectedVersion is { } expected && !string.Equals(expected, version, StringComparison.Ordinal))
            return new Outcome { StaleVersion = version, Version = version };

        var run = new Run(c, tx, cipher, caller, file, live, options);
        try
        {
            await run.ExecuteAsync();
        }
        catch (PostgresException ex) when (ex.SqlState is PostgresErrorCodes.UniqueViolation or PostgresErrorCodes.ForeignKeyViolation)
        {
            // Validation and writes share this transaction; only a change committed meanwhile through another endpoint gets here.
            return new Outcome { Collision = "The team's configuration changed through another request while this one ran; plan again.", Version = version };
        }
        if (run.Errors.Any) return new Outcome { Errors = run.Errors, Version = version, Changes = run.Changes };
        if (!options.Apply) return new Outcome { Version = version, Changes = run.Changes };

        var after = (await LiveState.LoadAsync(c, tx, caller.EntityId, caller.Entity)).Version();
        // A null project is the team scope: Rules drops every project of the team.
        var projects = new SortedSet<string?>(run.ChangedProjects, StringComparer.Ordinal);
        if (run.ChangedTeam) projects.Add(null);
        if (run.ChangedTargets.Count > 0)
            projects.UnionWith(await c.QueryAsync<string?>(
                "select distinct project from control.automations where webhook_id = any(@ids)", new { ids = run.ChangedTargets.ToArray() }, tx));
        await RecordAsync(caller, tx, options, version, after, run.Changes);
        await AutomationChanges.CommitAsync(http, c, tx, caller.Entity, projects, null, ct);
        return new Outcome { Version = version, VersionAfter = after, Changes = run.Changes };
    }

    /// <summary>
    /// The apply's audit entries, in its transaction: one for the apply (its options, versions, summary and every object
    /// it created, updated or deleted), then one per such object naming the fields that changed (the values are in the
    /// objects' own views, the file and the export; not repeated here).
    /// </summary>
    private static async Task RecordAsync(ApiKeyPrincipal caller, NpgsqlTransaction tx, Options options, string version, string versionAfter, List<Change> changes)
    {
        var audit = Audit.Of(caller, tx);
        var made = changes.Where(ch => ch.Action is Actions.Create or Actions.Update or Actions.Delete).ToList();
        var summary = new[] { Actions.Create, Actions.Update, Actions.Delete, Actions.Unchanged, Actions.Unmanaged }
            .ToDictionary(a => a, a => changes.Count(ch => ch.Action == a));
        var apply = await audit.RecordAsync(AuditKinds.ConfigApply, AuditActions.Apply, null, caller.Entity, null, null, new
        {
            version, versionAfter, prune = options.Prune, force = options.Force, changed = made.Count > 0, summary,
            changes = made.Select(ch => new { ch.Kind, ch.Name, ch.Project, ch.Action, ch.Fields }),
        });
        foreach (var ch in made)
            await audit.RecordAsync(ch.Kind, ch.Action, null, ch.Name, ch.Project, null, new { configApply = apply, fields = ch.Fields });
    }

    private sealed class Run(NpgsqlConnection c, NpgsqlTransaction tx, SecretCipher? cipher, ApiKeyPrincipal caller, ConfigFile file, LiveState live, Options options)
    {
        public Errors Errors { get; } = new();
        public List<Change> Changes { get; } = [];
        public HashSet<string> ChangedProjects { get; } = new(StringComparer.Ordinal);
        /// <summary>Webhooks and integrations updated: Rules is told about the projects whose automations send to them.</summary>
        public HashSet<Guid> ChangedTargets { get; } = [];
        /// <summary>A team automation was created, updated or deleted: Rules is told for the team scope.</summary>
        public bool ChangedTeam { get; private set; }
        /// <summary>The file's team automations that validated, by name: their index in teamAutomations.</summary>
        private readonly Dictionary<string, int> _teamNamed = new(StringComparer.Ordinal);

        private Guid EntityId => caller.EntityId;
        /// <summary>Entries whose name an earlier entry of the file already has: refused, and not written (the second write would collide).</summary>
        private readonly HashSet<string> _duplicates = new(StringComparer.Ordinal);

        public async Task ExecuteAsync()
        {
            CheckFile();
            await QueuesAsync();
            await WebhooksAsync();
            await IntegrationsAsync();
            var automations = await AutomationsAsync();
            await TeamAutomationsAsync();
            await RemainderAsync(automations);
        }

        private void Add(string kind, string name, string? project, string? path, string action, IReadOnlyList<string>? fields = null) =>
            Changes.Add(new Change(kind, name, project, path, action, fields ?? []));

        private void CheckFile()
        {
            if (file.Version is null) Errors.Add("version", $"is required: {ConfigFile.CurrentVersion}");
            else if (file.Version != ConfigFile.CurrentVersion) Errors.Add("version", $"must be {ConfigFile.CurrentVersion} (the only version of this format)");
            if (file.Entity is not null && !string.Equals(file.Entity, caller.Entity, StringComparison.Ordinal))
                Errors.Add("entity", $"names another team than the one in the request ('{caller.Entity}'); a file is applied to the team it describes");
            // Webhooks and integrations share one table and its unique names.
            var targets = new Dictionary<string, string>(StringComparer.Ordinal);
            Unique("webhooks", file.Webhooks, w => w.Name?.Trim(), targets);
            Unique("integrations", file.Integrations, i => i.Name?.Trim(), targets);
            Unique("queues", file.Queues, q => q.Name, new Dictionary<string, string>(StringComparer.Ordinal));
            Unique("automations", file.Automations, a => a.Project is null || a.Name is null ? null : $"{a.Project}/{a.Name.Trim()}",
                new Dictionary<string, string>(StringComparer.Ordinal));
            Unique("teamAutomations", file.TeamAutomations, a => a.Name?.Trim(), new Dictionary<string, string>(StringComparer.Ordinal));
        }

        private void Unique<T>(string list, List<T?>? items, Func<T, string?> key, Dictionary<string, string> seen) where T : class
        {
            for (var i = 0; i < (items?.Count ?? 0); i++)
            {
                var path = $"{list}[{i}]";
                if (items![i] is not { } item) { Errors.Add(path, "must be a mapping, not empty"); continue; }
                if (key(item) is not { Length: > 0 } k) continue;
                if (seen.TryGetValue(k, out var first))
                {
                    Errors.Add($"{path}.name", $"is the name of {first} too; names are unique");
                    _duplicates.Add(path);
                }
                else seen[k] = path;
            }
        }

        private static IEnumerable<(int Index, T Item)> Entries<T>(List<T?>? items) where T : class =>
            (items ?? []).Select((item, i) => (i, item)).Where(e => e.item is not null).Select(e => (e.i, e.item!));

        /// <summary>The entries a stage validates and writes: all but the duplicates.</summary>
        private IEnumerable<(int Index, T Item)> Undoubled<T>(string list, List<T?>? items) where T : class =>
            Entries(items).Where(e => !_duplicates.Contains($"{list}[{e.Index}]"));

        private async Task QueuesAsync()
        {
            foreach (var (i, q) in Undoubled("queues", file.Queues))
            {
                var path = $"queues[{i}]";
                var errors = QueuesEndpoints.Check(q);
                Errors.AddAll(errors, path + ".");
                if (errors.Any) continue;
                var existing = live.Queues.Find(l => l.Name == q.Name);
                if (existing is null)
                {
                    await c.ExecuteAsync("insert into control.launch_queues (id, entity_id, name, description) values (@id, @EntityId, @Name, @Description)",
                        new { id = Guid.CreateVersion7(), EntityId, q.Name, q.Description }, tx);
                    Add("queue", q.Name!, null, path, Actions.Create);
                }
                else if (existing.Description != q.Description)
                {
                    await c.ExecuteAsync("update control.launch_queues set description = @Description where id = @Id", new { existing.Id, q.Description }, tx);
                    Add("queue", q.Name!, null, path, Actions.Update, ["description"]);
                }
                else Add("queue", q.Name!, null, path, Actions.Unchanged);
            }
        }

        private async Task WebhooksAsync()
        {
            foreach (var (i, w) in Undoubled("webhooks", file.Webhooks))
            {
                var path = $"webhooks[{i}]";
                if (live.Integrations.Exists(l => l.Name == w.Name?.Trim()))
                {
                    Errors.Add($"{path}.name", "is the name of an integration of this team; webhooks and integrations share names");
                    continue;
                }
                var (v, errors) = await WebhooksEndpoints.ValidateAsync(w, EntityId, c);
                Errors.AddAll(errors, path + ".");
                if (v is null) continue;
                var existing = live.Webhooks.Find(l => l.Name == v.Name);
                if (existing is null)
                {
                    await WebhooksEndpoints.InsertRowAsync(c, tx, Guid.CreateVersion7(), EntityId, v);
                    Add("webhook", v.Name, null, path, Actions.Create);
                    continue;
                }
                var fields = new List<string>();
                if (existing.Url != v.Url) fields.Add("url");
                if (existing.SecretId != v.SecretId) fields.Add("secret");
                if (existing.AccessTokenId != v.AccessTokenId) fields.Add("accessToken");
                if (fields.Count == 0) { Add("webhook", v.Name, null, path, Actions.Unchanged); continue; }
                await WebhooksEndpoints.UpdateRowAsync(c, tx, existing.Id, EntityId, v);
                ChangedTargets.Add(existing.Id);
                Add("webhook", v.Name, null, path, Actions.Update, fields);
            }
        }

        private sealed class SecretRow
        {
            public Guid Id { get; set; }
            public string KeyId { get; set; } = "";
            public byte[] Nonce { get; set; } = [];
            public byte[] Ciphertext { get; set; } = [];
            public byte[] Tag { get; set; } = [];
        }

        private async Task IntegrationsAsync()
        {
            foreach (var (i, e) in Undoubled("integrations", file.Integrations))
            {
                var path = $"integrations[{i}]";
                var name = e.Name?.Trim();
                if (live.Webhooks.Exists(l => l.Name == name))
                {
                    Errors.Add($"{path}.name", "is the name of a webhook of this team; webhooks and integrations share names");
                    continue;
                }
                var existing = live.Integrations.Find(l => l.Name == name);
                if (existing is not null && e.Kind is not null && existing.Kind != e.Kind)
                {
                    Errors.Add($"{path}.kind", $"is {existing.Kind} in the team; an integration's kind does not change (give the new one another name)");
                    continue;
                }
                if ((e.UrlSecret is not null || existing is not null) && cipher is null)
                {
                    Errors.Add($"{path}.urlSecret", "cannot be read: the Api has no master key (Secrets:MasterKeys)");
                    continue;
                }

                // The URL the integration will have: the named secret's value, else (an integration that exists) its own.
                string? url = null;
                Guid? urlSecretId = null;
                if (!string.IsNullOrWhiteSpace(e.UrlSecret))
                {
                    var secret = await c.QuerySingleOrDefaultAsync<SecretRow>(
                        "select id as Id, key_id as KeyId, nonce as Nonce, ciphertext as Ciphertext, tag as Tag from control.secrets where entity_id = @EntityId and name = @name",
                        new { EntityId, name = e.UrlSecret }, tx);
                    if (secret is null)
                    {
                        Errors.Add($"{path}.urlSecret", $"there is no secret named '{e.UrlSecret}' in this team; add it first (POST /secrets) with the incoming-webhook URL as its value");
                        continue;
                    }
                    urlSecretId = secret.Id;
                    url = cipher!.Decrypt(EntityId, e.UrlSecret, new EncryptedSecret(secret.KeyId, secret.Nonce, secret.Ciphertext, secret.Tag));
                }
                else if (existing is null)
                {
                    Errors.Add($"{path}.urlSecret", "is required to create an integration: the name of the team secret whose value is its incoming-webhook URL");
                    continue;
                }
                var current = existing is null ? null : CurrentUrl(existing);
                var errors = IntegrationsEndpoints.Check(new IntegrationsEndpoints.IntegrationBody { Name = e.Name, Kind = e.Kind, Url = url ?? current }, create: true);
                foreach (var (field, message) in errors.Items)
                    Errors.Add(field == "url" ? $"{path}.urlSecret" : $"{path}.{field}",
                        field == "url" ? $"the value of secret '{e.UrlSecret}' is not a usable incoming-webhook URL: {message}" : message);
                if (errors.Any) continue;
                if (existing is null)
                {
                    await IntegrationsEndpoints.InsertRowAsync(c, tx, cipher!, Guid.CreateVersion7(), EntityId, name!, e.Kind!, url!, urlSecretId);
                    Add("integration", name!, null, path, Actions.Create);
                    continue;
                }
                var fields = new List<string>();
                if (url is not null && existing.UrlSecretId != urlSecretId) fields.Add("urlSecret");
                // Compared here, never shown: the plan says only that the URL changes.
                if (url is not null && !string.Equals(current, url, StringComparison.Ordinal)) fields.Add("url");
                if (fields.Count == 0) { Add("integration", name!, null, path, Actions.Unchanged); continue; }
                await IntegrationsEndpoints.UpdateRowAsync(c, tx, cipher!, existing.Id, EntityId, name!, url!, urlSecretId);
                ChangedTargets.Add(existing.Id);
                Add("integration", name!, null, path, Actions.Update, fields);
            }
        }

        private string CurrentUrl(LiveState.Integration i) =>
            cipher!.Decrypt(EntityId, WebhookTarget.SecretUrlName(i.Id), new EncryptedSecret(i.KeyId!, i.Nonce!, i.Ciphertext!, i.Tag!));

        private async Task<Dictionary<(string Project, string Name), int>> AutomationsAsync()
        {
            var named = new Dictionary<(string, string), int>();
            foreach (var (i, a) in Undoubled("automations", file.Automations))
            {
                var path = $"automations[{i}]";
                if (string.IsNullOrWhiteSpace(a.Project))
                    Errors.Add($"{path}.project", "is required: the project the automation belongs to");
                else if (NameRules.CheckProject(a.Project) is { } rule) Errors.Add($"{path}.project", rule);
                var (v, errors) = await AutomationValidator.ValidateAsync(a, EntityId, c);
                Errors.AddAll(errors, path + ".");
                if (v is null || Errors.Items.Any(e => e.Field.StartsWith(path + ".", StringComparison.Ordinal))) continue;
                var project = a.Project!;
                named[(project, v.Name)] = i;
                if (await SyncAutomationAsync(live.Automations.Find(l => l.Project == project && l.Name == v.Name), project, v, path))
                    ChangedProjects.Add(project);
            }
            return named;
        }

        /// <summary>
        /// One automation of the file against its live twin (null: none), in a project or, with a null
        /// <paramref name="project"/>, the team scope: created, updated or unchanged. True when a row was written.
        /// </summary>
        private async Task<bool> SyncAutomationAsync(LiveState.Automation? existing, string? project, AutomationValidator.Resolved v, string path)
        {
            var kind = project is null ? AuditKinds.TeamAutomation : AuditKinds.Automation;
            if (existing is null)
            {
                await AutomationsEndpoints.InsertRowAsync(c, tx, Guid.CreateVersion7(), EntityId, project, v, caller.UserId);
                Add(kind, v.Name, project, path, Actions.Create);
                return true;
            }
            var fields = Differences(existing, v);
            if (fields.Count == 0) { Add(kind, v.Name, project, path, Actions.Unchanged); return false; }
            await AutomationsEndpoints.UpdateRowAsync(c, tx, existing.Id, EntityId, project, v);
            Add(kind, v.Name, project, path, Actions.Update, fields);
            return true;
        }

        /// <summary>Team automations, as project automations but in the team scope (a null project), validated as the team create endpoint does.</summary>
        private async Task TeamAutomationsAsync()
        {
            foreach (var (i, a) in Undoubled("teamAutomations", file.TeamAutomations))
            {
                var path = $"teamAutomations[{i}]";
                var (v, errors) = await AutomationValidator.ValidateAsync(a, EntityId, c, team: true);
                Errors.AddAll(errors, path + ".");
                if (v is null) continue;
                _teamNamed[v.Name] = i;
                if (await SyncAutomationAsync(live.TeamAutomations.Find(l => l.Name == v.Name), null, v, path))
                    ChangedTeam = true;
            }
        }

        /// <summary>The file's fields whose stored value an update changes.</summary>
        private static List<string> Differences(LiveState.Automation l, AutomationValidator.Resolved r)
        {
            var fields = new List<string>();
            void Field(string name, bool differs) { if (differs) fields.Add(name); }
            Field("description", l.Description != r.Description);
            Field("enabled", l.Enabled != r.Enabled);
            Field("event.type", l.EventType != r.EventType);
            Field("event.projectRegex", l.ProjectRegex != r.ProjectRegex);
            Field("event.collection", l.Collection != r.Collection);
            Field("event.aliasRegex", l.AliasRegex != r.AliasRegex);
            Field("event.tagRegex", l.TagRegex != r.TagRegex);
            var (lr, rr) = (RunFilter.FromJson(l.RunFilter), RunFilter.FromJson(r.RunFilterJson));
            Field("event.state", lr?.State != rr?.State);
            Field("event.runNameRegex", lr?.RunNameRegex != rr?.RunNameRegex);
            Field("event.user", lr?.User != rr?.User);
            Field("event.metric", !JsonEqual(Json(lr?.Metric), Json(rr?.Metric)));
            Field("action.type", l.ActionType != r.ActionType);
            Field(r.ActionType == "notification" ? "action.integration" : "action.webhook", l.WebhookId != r.WebhookId);
            Field("action.payload", r.ActionType != "notification" && l.Payload != r.Payload);
            Field("action.job", l.JobId != r.JobId);
            Field("action.jobVersion", l.JobVersion != r.JobVersion);
            Field("action.queue", l.QueueId != r.QueueId);
            Field("action.targetProject", l.TargetProject != r.TargetProject);
            Field("action.overrides", !JsonEqual(l.Overrides, r.OverridesJson));
            Field("action.title", l.NotificationTitle != r.NotificationTitle);
            Field("action.text", l.NotificationText != r.NotificationText);
            Field("action.severity", l.NotificationSeverity != r.NotificationSeverity);
            // A notification's stored payload follows from the fields above; should its rendering change, saving refreshes it.
            if (fields.Count == 0 && l.Payload != r.Payload) fields.Add("action");
            return fields;
        }

        private static string? Json(MetricFilter? m) => m is null ? null : System.Text.Json.JsonSerializer.Serialize(m, Persistence.Json.Options);

        private static bool JsonEqual(string? a, string? b) =>
            a is null || b is null ? a is null && b is null : JsonNode.DeepEquals(JsonNode.Parse(a), JsonNode.Parse(b));

        /// <summary>What the file does not name: deleted with prune (automations first, then what they used), otherwise listed as unmanaged.</summary>
        private async Task RemainderAsync(Dictionary<(string Project, string Name), int> automations)
        {
            var action = options.Prune ? Actions.Delete : Actions.Unmanaged;
            // Only a valid file prunes: a file whose entries failed validation would otherwise delete what it meant to keep.
            var prune = options.Prune && !Errors.Any;
            var fileNames = Entries(file.Automations).Where(e => e.Item.Project is not null && e.Item.Name is not null)
                .Select(e => (e.Item.Project!, e.Item.Name!.Trim())).ToHashSet();
            foreach (var a in live.Automations.Where(a => !fileNames.Contains((a.Project, a.Name))))
            {
                if (prune)
                {
                    await AutomationsEndpoints.DeleteRowAsync(c, tx, a.Id, EntityId, a.Project);
                    ChangedProjects.Add(a.Project);
                }
                Add("automation", a.Name, a.Project, null, action);
            }
            var teamNames = NamesIn(file.TeamAutomations, a => a.Name?.Trim());
            foreach (var a in live.TeamAutomations.Where(a => !teamNames.Contains(a.Name)))
            {
                if (prune)
                {
                    await AutomationsEndpoints.DeleteRowAsync(c, tx, a.Id, EntityId, null);
                    ChangedTeam = true;
                }
                Add(AuditKinds.TeamAutomation, a.Name, null, null, action);
            }
            var webhookNames = NamesIn(file.Webhooks, w => w.Name?.Trim());
            foreach (var w in live.Webhooks.Where(w => !webhookNames.Contains(w.Name)))
            {
                if (prune && await CanDeleteAsync("webhook", w.Id, w.Name, automations))
                    await c.ExecuteAsync("delete from control.webhooks where id = @Id", new { w.Id }, tx);
                Add("webhook", w.Name, null, null, action);
            }
            var integrationNames = NamesIn(file.Integrations, i => i.Name?.Trim());
            foreach (var i in live.Integrations.Where(i => !integrationNames.Contains(i.Name)))
            {
                if (prune && await CanDeleteAsync("integration", i.Id, i.Name, automations))
                    await c.ExecuteAsync("delete from control.webhooks where id = @Id", new { i.Id }, tx);
                Add("integration", i.Name, null, null, action);
            }
            var queueNames = NamesIn(file.Queues, q => q.Name);
            foreach (var q in live.Queues.Where(q => !queueNames.Contains(q.Name)))
            {
                if (prune && await CanDeleteAsync("queue", q.Id, q.Name, automations))
                    await c.ExecuteAsync("delete from control.launch_queues where id = @Id", new { q.Id }, tx);
                Add("queue", q.Name, null, null, action);
            }
        }

        private static HashSet<string> NamesIn<T>(List<T?>? items, Func<T, string?> name) where T : class =>
            Entries(items).Select(e => name(e.Item)).OfType<string>().ToHashSet(StringComparer.Ordinal);

        /// <summary>An object prune deletes must no longer be used: each automation still using it is named (its path when the file has it).</summary>
        private async Task<bool> CanDeleteAsync(string kind, Guid id, string name, Dictionary<(string Project, string Name), int> automations)
        {
            var column = kind == "queue" ? "queue_id" : "webhook_id";
            var users = await c.QueryAsync<(string? Project, string Name)>(
                $"select project, name from control.automations where {column} = @id order by project, name", new { id }, tx);
            var ok = true;
            var field = kind == "queue" ? "action.queue" : kind == "integration" ? "action.integration" : "action.webhook";
            var list = kind == "queue" ? "queues" : kind == "integration" ? "integrations" : "webhooks";
            foreach (var (project, automation) in users)
            {
                ok = false;
                if (project is null)
                {
                    if (_teamNamed.TryGetValue(automation, out var at))
                        Errors.Add($"teamAutomations[{at}].{field}", $"names {kind} '{name}', which the file does not list, so prune would delete it; list it in the file");
                    else
                        Errors.Add(list, $"prune would delete {kind} '{name}', which team automation {automation} (not in this file) uses");
                }
                else if (automations.TryGetValue((project, automation), out var index))
                    Errors.Add($"automations[{index}].{field}", $"names {kind} '{name}', which the file does not list, so prune would delete it; list it in the file");
                else
                    Errors.Add(list, $"prune would delete {kind} '{name}', which automation {project}/{automation} (not in this file) uses");
            }
            return ok;
        }
    }
}
