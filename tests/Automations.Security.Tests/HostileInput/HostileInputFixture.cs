using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;

namespace Automations.Security.Tests.HostileInput;

/// <summary>
/// The security fixture plus one of everything an operation can name in its path, so that hostile input reaches the
/// code behind the route: in acme a secret WALK_SECRET, a webhook "walk hook", a queue "walk-queue", a job "walk-job"
/// (version 1), an automation "walk automation" in project mnist, a team automation "walk team automation", a spare key, and a queue item claimed by the agent
/// with a known lease.
/// </summary>
public class HostileInputFixture : SecurityFixture
{
    public const string Project = "mnist";
    public const string SecretName = "WALK_SECRET";
    public const string WebhookName = "walk hook";
    public const string QueueName = "walk-queue";
    public const string JobName = "walk-job";
    public const string AutomationName = "walk automation";
    public const string IntegrationName = "walk slack";

    public Guid WebhookId { get; private set; }
    public Guid QueueId { get; private set; }
    public Guid JobId { get; private set; }
    public Guid AutomationId { get; private set; }
    public Guid TeamAutomationId { get; private set; }
    public Guid IntegrationId { get; private set; }
    public Guid SpareKeyId { get; private set; }
    public Guid ItemId { get; private set; }
    public Guid LeaseId { get; } = Guid.NewGuid();

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        await CreateAsync("/v1/entities/acme/secrets", new { name = SecretName, value = "walk-secret-value" });
        WebhookId = await CreateAsync("/v1/entities/acme/webhooks", new { name = WebhookName, url = "https://hooks.example/walk", secret = SecretName });
        IntegrationId = await CreateAsync("/v1/entities/acme/integrations", new { name = IntegrationName, kind = "slack", url = "https://hooks.example/services/T/B/walk" });
        QueueId = await CreateAsync("/v1/entities/acme/queues", new { name = QueueName, description = "walk" });
        JobId = await CreateAsync("/v1/entities/acme/jobs", new { name = JobName, description = "walk" });
        await CreateAsync($"/v1/entities/acme/jobs/{JobId}/versions", new { command = "python", args = new[] { "train.py" }, defaultConfig = new { epochs = 3 } });
        AutomationId = await CreateAsync($"/v1/entities/acme/projects/{Project}/automations", new
        {
            name = AutomationName,
            @event = new { type = "CREATE_ARTIFACT", collection = "eval-set" },
            action = new { type = "webhook", webhook = WebhookName, payload = """{"text":"${event_type}"}""" },
        });
        TeamAutomationId = await CreateAsync("/v1/entities/acme/automations", new
        {
            name = "walk team automation",
            @event = new { type = "CREATE_ARTIFACT", collection = "eval-set", projectRegex = "^mnist" },
            action = new { type = "no_op" },
        });
        SpareKeyId = await CreateAsync("/v1/entities/acme/keys", new { name = "spare", scopes = new[] { "events:write" } });

        // A queue item the agent holds, with a lease that outlives the walk: heartbeat, running, finished, failed and release reach the store.
        ItemId = Guid.NewGuid();
        await using var c = await DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            """
            insert into launch.queue_items (id, command_id, run_id, event_id, automation_id, entity_id, entity, project, queue_id, job_id, job_name,
                job_version, command, args, run_config, event, state, claims, lease_id, lease_expires_at, claimed_by, claimed_at)
            values (@ItemId, gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), @AutomationId, @AcmeId, 'acme', @Project, @QueueId, @JobId, @JobName,
                1, 'python', '["train.py"]', '{}', '{}', 'claimed', 1, @LeaseId, now() + interval '1 day', 'walk-agent', now())
            """, new { ItemId, AutomationId, AcmeId, Project, QueueId, JobId, JobName, LeaseId });
    }

    private async Task<Guid> CreateAsync(string path, object body)
    {
        using var response = await SendAsync(Api.Client, HttpMethod.Post, path, body, KeyOf(Principal.Admin));
        if (response.StatusCode != HttpStatusCode.Created)
            throw new InvalidOperationException($"walk setup: POST {path} answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        var created = await response.Content.ReadFromJsonAsync<JsonElement>();
        return created.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String ? id.GetGuid() : Guid.Empty;
    }

    /// <summary>
    /// A digest of every row a caller could have created or changed (the control tables, accepted and rejected events,
    /// queue items). Only api_keys.last_used_at is left out: authenticating writes it.
    /// </summary>
    public async Task<string> StoredStateAsync()
    {
        string[] tables =
        [
            "control.entities", "control.users", "control.memberships", "control.api_keys", "control.secrets", "control.webhooks",
            "control.automations", "control.launch_jobs", "control.launch_job_versions", "control.launch_queues", "control.audit",
            "ingestion.events", "ingestion.rejected_events", "launch.queue_items",
        ];
        var sql = string.Join(" union all ", tables.Select(t =>
            $"select '{t}' as t, count(*) as n, md5(coalesce(string_agg((to_jsonb(r) - 'last_used_at')::text, '|' order by (to_jsonb(r) - 'last_used_at')::text), '')) as h from {t} r"));
        await using var c = await DataSource.OpenConnectionAsync();
        var rows = await c.QueryAsync<(string T, long N, string H)>(sql);
        return string.Join("; ", rows.Select(r => $"{r.T}={r.N}/{r.H[..8]}"));
    }

    /// <summary>Every service still answers /health/ready.</summary>
    public async Task<string?> UnreadyServiceAsync()
    {
        foreach (var (name, host) in new[] { ("api", Api), ("ingestion", Ingestion), ("launch", Launch) })
        {
            try
            {
                using var response = await host.Client.GetAsync("/health/ready");
                if (response.StatusCode != HttpStatusCode.OK) return $"{name} answered /health/ready with {(int)response.StatusCode}";
            }
            catch (HttpRequestException ex)
            {
                return $"{name} does not answer /health/ready: {ex.Message}";
            }
        }
        return null;
    }
}
