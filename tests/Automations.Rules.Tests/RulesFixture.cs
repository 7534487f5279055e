using System.Text;
using Automations.Contracts;
using Automations.Persistence.Control;
using Automations.Testing;
using Dapper;
using MassTransit;
using RabbitMQ.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Automations.Rules.Tests;

/// <summary>A migrated database and vhost, entities "acme" and "globex" with a webhook and a Launch job each, and Rules running.</summary>
public class RulesFixture : TestEnvironment
{
    public ServiceHost Rules { get; private set; } = null!;
    public ConsumedMessages Consumed { get; } = new();
    public Guid AcmeId { get; private set; }
    public Guid GlobexId { get; private set; }
    public Guid AcmeWebhookId { get; private set; }
    public Guid GlobexWebhookId { get; private set; }
    public Guid AcmeJobId { get; private set; }
    public Guid AcmeQueueId { get; private set; }
    public string AcmeAdminKey { get; private set; } = "";
    public string GlobexAdminKey { get; private set; } = "";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var acme = await Bootstrap.CreateEntityWithAdminAsync(DataSource, "acme", "admin");
        var globex = await Bootstrap.CreateEntityWithAdminAsync(DataSource, "globex", "boss");
        (AcmeId, GlobexId, AcmeAdminKey, GlobexAdminKey) = (acme.EntityId, globex.EntityId, acme.ApiKey, globex.ApiKey);
        AcmeWebhookId = await CreateWebhookAsync(AcmeId, "github");
        GlobexWebhookId = await CreateWebhookAsync(GlobexId, "github");
        await using (var c = await DataSource.OpenConnectionAsync())
        {
            AcmeJobId = Guid.CreateVersion7();
            AcmeQueueId = Guid.CreateVersion7();
            await c.ExecuteAsync(
                """
                insert into control.launch_jobs (id, entity_id, name) values (@AcmeJobId, @AcmeId, 'retrain');
                insert into control.launch_job_versions (job_id, version, command) values (@AcmeJobId, 1, 'python train.py'), (@AcmeJobId, 2, 'python train.py --v2');
                insert into control.launch_queues (id, entity_id, name) values (@AcmeQueueId, @AcmeId, 'gpu');
                """, new { AcmeJobId, AcmeId, AcmeQueueId });
        }
        if (StartsRules) Rules = await StartRulesAsync(Consumed);
    }

    /// <summary>Whether Rules runs from the start (a test that starts and stops it itself says no).</summary>
    protected virtual bool StartsRules => true;

    public async Task<ServiceHost> StartRulesAsync(ConsumedMessages? consumed = null)
    {
        var host = await ServiceHost.StartAsync(Program.Build, ServiceConfiguration());
        if (consumed is not null) host.Services.GetRequiredService<IBus>().ConnectConsumeObserver(consumed);
        return host;
    }

    public override Dictionary<string, string?> ServiceConfiguration()
    {
        var config = base.ServiceConfiguration();
        // Only AutomationsChanged may drop the cache during a test.
        config["Rules:CacheTtl"] = "01:00:00";
        return config;
    }

    public override async Task DisposeAsync()
    {
        if (Rules is not null) await Rules.DisposeAsync();
        await base.DisposeAsync();
    }

    public async Task<Guid> CreateWebhookAsync(Guid entityId, string name)
    {
        var id = Guid.CreateVersion7();
        await using var c = await DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("insert into control.webhooks (id, entity_id, name, url) values (@id, @entityId, @name, 'https://example.com/hook')",
            new { id, entityId, name = $"{name}-{id:N}" });
        return id;
    }

    public sealed record AutomationSpec(
        string Name,
        string EventType = EventTypes.CreateArtifact,
        string? Collection = "eval-set",
        string? AliasRegex = null,
        string? TagRegex = null,
        bool Enabled = true,
        string? Payload = null,
        string Entity = "acme",
        string? Project = null);

    /// <summary>Inserts a webhook automation as the Api would (the Api is built in parallel; control rows are its contract).</summary>
    public async Task<Guid> CreateWebhookAutomationAsync(string project, AutomationSpec spec)
    {
        var id = Guid.CreateVersion7();
        var entityId = spec.Entity == "acme" ? AcmeId : GlobexId;
        var webhookId = spec.Entity == "acme" ? AcmeWebhookId : GlobexWebhookId;
        await using var c = await DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            """
            insert into control.automations (id, entity_id, project, name, enabled, event_type, collection, alias_regex, tag_regex, action_type, webhook_id, payload)
            values (@id, @entityId, @project, @Name, @Enabled, @EventType, @Collection, @AliasRegex, @TagRegex, 'webhook', @webhookId, @payload)
            """,
            new
            {
                id, entityId, project = spec.Project ?? project, spec.Name, spec.Enabled, spec.EventType, spec.Collection, spec.AliasRegex, spec.TagRegex, webhookId,
                payload = spec.Payload ?? """{"event_type":"${event_type}","automation":"${automation_name}"}""",
            });
        return id;
    }

    public async Task<Guid> CreateLaunchAutomationAsync(string project, string name, int? jobVersion, string? overrides, string? targetProject)
    {
        var id = Guid.CreateVersion7();
        await using var c = await DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            """
            insert into control.automations (id, entity_id, project, name, event_type, collection, action_type, job_id, job_version, queue_id, target_project, overrides)
            values (@id, @AcmeId, @project, @name, 'CREATE_ARTIFACT', 'eval-set', 'launch', @AcmeJobId, @jobVersion, @AcmeQueueId, @targetProject, @overrides::jsonb)
            """, new { id, AcmeId, project, name, AcmeJobId, jobVersion, AcmeQueueId, targetProject, overrides });
        return id;
    }

    public static ArtifactEventReceived Event(
        string project, string type = EventTypes.CreateArtifact, string collection = "eval-set", string? alias = null, string? tag = null,
        string entity = "acme", string? metadataJson = """{"accuracy":0.93}""") =>
        new(Guid.CreateVersion7(), "p-" + Guid.NewGuid().ToString("N")[..8], type, entity, project, collection, "QXJ0aWZhY3Q6NTE3ODg5ODg3", 3, alias, tag, "jane",
            new DateTimeOffset(2026, 11, 27, 22, 41, 0, TimeSpan.Zero), metadataJson, DateTimeOffset.UtcNow);

    public Task PublishAsync<T>(T message, Guid? messageId = null, ServiceHost? via = null) where T : class
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        return (via ?? Rules).Services.GetRequiredService<IBus>().Publish(message, ctx => { if (messageId is { } id) ctx.MessageId = id; }, cts.Token);
    }

    /// <summary>Publishes the event and waits until Rules has committed its handling of it (its inbox row exists).</summary>
    public async Task<Guid> HandleAsync(ArtifactEventReceived e, Guid? messageId = null)
    {
        var id = messageId ?? Guid.CreateVersion7();
        await PublishAsync(e, id);
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<bool>("select exists (select 1 from rules.inbox where consumer = 'rules-artifact-events' and message_id = @id)", new { id });
        }, $"Rules handled event {e.EventId}");
        return id;
    }

    /// <summary>
    /// Waits until a command written twice would have reached the probe: the outbox is empty (a row leaves it only once
    /// the broker confirmed its message), and the probe has received everything routed to it before now.
    /// </summary>
    public async Task EverythingPublishedAsync(MessageProbe probe)
    {
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<int>("select count(*) from rules.outbox") == 0;
        }, "the outbox is drained");
        await probe.CatchUpAsync();
    }

    /// <summary>A message of rules-artifact-events_error: its body and MassTransit's MT-Fault-ExceptionType header.</summary>
    public sealed record Faulted(string Body, string ExceptionType);

    /// <summary>Waits for the next message in rules-artifact-events_error and takes it (declared on the first fault).</summary>
    public async Task<Faulted> FaultedEventAsync()
    {
        var factory = new ConnectionFactory { Uri = new Uri(RabbitMqConnectionString) };
        await using var connection = await factory.CreateConnectionAsync();
        BasicGetResult? faulted = null;
        await Eventually.TrueAsync(async () =>
        {
            // A get on a queue that does not exist yet closes the channel: one per try.
            await using var channel = await connection.CreateChannelAsync();
            try { faulted = await channel.BasicGetAsync("rules-artifact-events_error", autoAck: true); }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException) { faulted = null; }
            return faulted is not null;
        }, "an event reached rules-artifact-events_error");
        return new Faulted(Encoding.UTF8.GetString(faulted!.Body.Span),
            Encoding.UTF8.GetString((byte[])faulted.BasicProperties.Headers!["MT-Fault-ExceptionType"]!));
    }

    public sealed class RunRow
    {
        public Guid Id { get; set; }
        public Guid AutomationId { get; set; }
        public string AutomationName { get; set; } = "";
        public string Status { get; set; } = "";
        public string? Reason { get; set; }
        public Guid CommandId { get; set; }
        public string? Payload { get; set; }
        public string ActionType { get; set; } = "";
    }

    public async Task<List<RunRow>> RunsOfEventAsync(Guid eventId)
    {
        await using var c = await DataSource.OpenConnectionAsync();
        return (await c.QueryAsync<RunRow>(
            """
            select id as Id, automation_id as AutomationId, automation_name as AutomationName, status as Status, reason as Reason,
                   command_id as CommandId, payload as Payload, action_type as ActionType
            from rules.runs where event_id = @eventId order by automation_name
            """, new { eventId })).AsList();
    }

    public async Task<RunRow> RunAsync(Guid runId)
    {
        await using var c = await DataSource.OpenConnectionAsync();
        return await c.QuerySingleAsync<RunRow>(
            "select id as Id, automation_id as AutomationId, automation_name as AutomationName, status as Status, reason as Reason, command_id as CommandId, payload as Payload, action_type as ActionType from rules.runs where id = @runId",
            new { runId });
    }

    public async Task ChangeAsync(string sql, object param, string project, string entity = "acme")
    {
        await using (var c = await DataSource.OpenConnectionAsync())
            await c.ExecuteAsync(sql, param);
        await PublishAsync(new AutomationsChanged(entity, project, null, DateTimeOffset.UtcNow));
    }
}
