using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Automations.Core.Runs;
using Dapper;
using Npgsql;

namespace Automations.Api.TeamConfig;

/// <summary>
/// What a configuration file can describe of a team, as stored: its webhooks, integrations, launch queues and project
/// automations and team automations (names resolved). Also the team's secret names and when each last changed, which the file does not
/// describe but which change what applying it does (an integration's URL is a secret's value).
/// </summary>
internal sealed class LiveState
{
    public sealed class Webhook
    {
        public Guid Id { get; set; }
        public string Name { get; set; } = "";
        public string Url { get; set; } = "";
        public Guid? SecretId { get; set; }
        public string? Secret { get; set; }
        public Guid? AccessTokenId { get; set; }
        public string? AccessToken { get; set; }
    }

    public sealed class Integration
    {
        public Guid Id { get; set; }
        public string Name { get; set; } = "";
        public string Kind { get; set; } = "";
        public Guid? UrlSecretId { get; set; }
        public string? UrlSecret { get; set; }
        public string? KeyId { get; set; }
        public byte[]? Nonce { get; set; }
        public byte[]? Ciphertext { get; set; }
        public byte[]? Tag { get; set; }
        public DateTimeOffset UpdatedAt { get; set; }
    }

    public sealed class Queue
    {
        public Guid Id { get; set; }
        public string Name { get; set; } = "";
        public string? Description { get; set; }
    }

    public sealed class Automation
    {
        public Guid Id { get; set; }
        /// <summary>Empty for a team automation.</summary>
        public string Project { get; set; } = "";
        public string? ProjectRegex { get; set; }
        public string Name { get; set; } = "";
        public string? Description { get; set; }
        public bool Enabled { get; set; }
        public string EventType { get; set; } = "";
        public string? Collection { get; set; }
        public string? AliasRegex { get; set; }
        public string? TagRegex { get; set; }
        public string ActionType { get; set; } = "";
        public Guid? WebhookId { get; set; }
        public string? Webhook { get; set; }
        public string? Payload { get; set; }
        public Guid? JobId { get; set; }
        public string? Job { get; set; }
        public int? JobVersion { get; set; }
        public Guid? QueueId { get; set; }
        public string? Queue { get; set; }
        public string? TargetProject { get; set; }
        public string? Overrides { get; set; }
        public string? RunFilter { get; set; }
        public string? NotificationTitle { get; set; }
        public string? NotificationText { get; set; }
        public string? NotificationSeverity { get; set; }
    }

    public sealed class Secret
    {
        public string Name { get; set; } = "";
        public DateTimeOffset UpdatedAt { get; set; }
    }

    public required string Entity { get; init; }
    public required List<Webhook> Webhooks { get; init; }
    public required List<Integration> Integrations { get; init; }
    public required List<Queue> Queues { get; init; }
    public required List<Automation> Automations { get; init; }
    public required List<Automation> TeamAutomations { get; init; }
    public required List<Secret> Secrets { get; init; }

    private const string AutomationSelect =
        """
        select a.id as Id, coalesce(a.project, '') as Project, a.project_regex as ProjectRegex, a.name as Name, a.description as Description, a.enabled as Enabled,
               a.event_type as EventType, a.collection as Collection, a.alias_regex as AliasRegex, a.tag_regex as TagRegex,
               a.action_type as ActionType, a.webhook_id as WebhookId, w.name as Webhook, a.payload as Payload, a.job_id as JobId, j.name as Job,
               a.job_version as JobVersion, a.queue_id as QueueId, q.name as Queue, a.target_project as TargetProject,
               a.overrides::text as Overrides, a.run_filter::text as RunFilter, a.notification_title as NotificationTitle,
               a.notification_text as NotificationText, a.notification_severity as NotificationSeverity
        from control.automations a
        left join control.webhooks w on w.id = a.webhook_id
        left join control.launch_jobs j on j.id = a.job_id
        left join control.launch_queues q on q.id = a.queue_id
        """;

    public static async Task<LiveState> LoadAsync(NpgsqlConnection c, NpgsqlTransaction? tx, Guid entityId, string entity)
    {
        var p = new { entityId };
        return new LiveState
        {
            Entity = entity,
            Webhooks = (await c.QueryAsync<Webhook>(
                """
                select w.id as Id, w.name as Name, w.url as Url, w.secret_id as SecretId, s.name as Secret,
                       w.access_token_secret_id as AccessTokenId, t.name as AccessToken
                from control.webhooks w
                left join control.secrets s on s.id = w.secret_id
                left join control.secrets t on t.id = w.access_token_secret_id
                where w.entity_id = @entityId and w.kind = 'generic' order by w.name
                """, p, tx)).AsList(),
            Integrations = (await c.QueryAsync<Integration>(
                """
                select w.id as Id, w.name as Name, w.kind as Kind, w.url_secret_id as UrlSecretId, s.name as UrlSecret, w.url_key_id as KeyId,
                       w.url_nonce as Nonce, w.url_ciphertext as Ciphertext, w.url_tag as Tag, w.updated_at as UpdatedAt
                from control.webhooks w
                left join control.secrets s on s.id = w.url_secret_id
                where w.entity_id = @entityId and w.kind <> 'generic' order by w.name
                """, p, tx)).AsList(),
            Queues = (await c.QueryAsync<Queue>(
                "select id as Id, name as Name, description as Description from control.launch_queues where entity_id = @entityId order by name", p, tx)).AsList(),
            Automations = (await c.QueryAsync<Automation>(AutomationSelect + " where a.entity_id = @entityId and a.project is not null order by a.project, a.name", p, tx)).AsList(),
            TeamAutomations = (await c.QueryAsync<Automation>(
                AutomationSelect + " where a.entity_id = @entityId and a.scope = 'team' order by a.name", p, tx)).AsList(),
            Secrets = (await c.QueryAsync<Secret>(
                "select name as Name, updated_at as UpdatedAt from control.secrets where entity_id = @entityId order by name", p, tx)).AsList(),
        };
    }

    /// <summary>The state as a configuration file (the JSON the YAML export is written from). No secret value is in it.</summary>
    public JsonObject ToFile()
    {
        var file = new JsonObject
        {
            ["version"] = ConfigFile.CurrentVersion,
            ["entity"] = Entity,
            ["webhooks"] = new JsonArray(Webhooks.Select(w => (JsonNode)Compact(new JsonObject
            {
                ["name"] = w.Name, ["url"] = w.Url, ["secret"] = w.Secret, ["accessToken"] = w.AccessToken,
            })).ToArray()),
            ["integrations"] = new JsonArray(Integrations.Select(i => (JsonNode)Compact(new JsonObject
            {
                ["name"] = i.Name, ["kind"] = i.Kind, ["urlSecret"] = i.UrlSecret,
            })).ToArray()),
            ["queues"] = new JsonArray(Queues.Select(q => (JsonNode)Compact(new JsonObject
            {
                ["name"] = q.Name, ["description"] = q.Description,
            })).ToArray()),
            ["automations"] = new JsonArray(Automations.Select(a => (JsonNode)ToFile(a)).ToArray()),
            ["teamAutomations"] = new JsonArray(TeamAutomations.Select(a => (JsonNode)ToFile(a)).ToArray()),
        };
        return file;
    }

    private static JsonObject ToFile(Automation a)
    {
        var run = RunFilter.FromJson(a.RunFilter);
        var ev = Compact(new JsonObject
        {
            ["type"] = a.EventType, ["projectRegex"] = a.ProjectRegex, ["collection"] = a.Collection, ["aliasRegex"] = a.AliasRegex, ["tagRegex"] = a.TagRegex,
            ["state"] = run?.State, ["runNameRegex"] = run?.RunNameRegex, ["user"] = run?.User,
            ["metric"] = run?.Metric is { } m ? Compact(JsonSerializer.SerializeToNode(m, Persistence.Json.Options)!.AsObject()) : null,
        });
        var action = a.ActionType switch
        {
            "webhook" => new JsonObject { ["type"] = "webhook", ["webhook"] = a.Webhook, ["payload"] = a.Payload },
            "notification" => new JsonObject
            {
                ["type"] = "notification", ["integration"] = a.Webhook, ["title"] = a.NotificationTitle, ["text"] = a.NotificationText,
                ["severity"] = a.NotificationSeverity,
            },
            "launch" => new JsonObject
            {
                ["type"] = "launch", ["job"] = a.Job, ["jobVersion"] = a.JobVersion, ["queue"] = a.Queue, ["targetProject"] = a.TargetProject,
                ["overrides"] = a.Overrides is null ? null : JsonNode.Parse(a.Overrides),
            },
            var other => new JsonObject { ["type"] = other },
        };
        return Compact(new JsonObject
        {
            ["project"] = a.Project is "" ? null : a.Project, ["name"] = a.Name, ["description"] = a.Description, ["enabled"] = a.Enabled,
            ["event"] = ev, ["action"] = Compact(action),
        });
    }

    /// <summary>Leaves out fields that are not set, as an author would.</summary>
    private static JsonObject Compact(JsonObject o)
    {
        foreach (var key in o.Where(p => p.Value is null).Select(p => p.Key).ToList()) o.Remove(key);
        return o;
    }

    /// <summary>
    /// A hash of everything an apply reads: the state as a file, and when each integration and secret last changed
    /// (an integration's URL and the secret it comes from are not in the file). Equal versions: an apply does what the
    /// plan said.
    /// </summary>
    public string Version()
    {
        var text = new StringBuilder(ToFile().ToJsonString());
        foreach (var i in Integrations) text.Append('\n').Append("integration ").Append(i.Name).Append(' ').Append(i.UpdatedAt.UtcTicks);
        foreach (var s in Secrets) text.Append('\n').Append("secret ").Append(s.Name).Append(' ').Append(s.UpdatedAt.UtcTicks);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(text.ToString())));
    }
}
