using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Security;
using Automations.Persistence.Control;
using Automations.Testing;
using Dapper;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Automations.Launch.Tests;

[CollectionDefinition(Name)]
public sealed class LaunchCollection : ICollectionFixture<LaunchFixture>
{
    public const string Name = "launch";
}

/// <summary>
/// A migrated database and vhost, entity "acme" with two agent keys (and keys that must be refused), LaunchEnqueuer on
/// 127.0.0.1 with short leases, and probes on the outcome messages. Each test makes its own queue and job, so tests
/// share the host without seeing each other's items.
/// </summary>
public sealed class LaunchFixture : TestEnvironment
{
    // Long enough that a loaded CI machine does not expire a lease the test means to keep (the outage test).
    public const int LeaseSeconds = 10;
    public const int MaxClaims = 2;

    public ServiceHost Enqueuer { get; private set; } = null!;
    public Guid EntityId { get; private set; }
    public string AgentKey { get; private set; } = "";
    public string SecondAgentKey { get; private set; } = "";
    public string ProducerKey { get; private set; } = "";
    public string OtherEntityAgentKey { get; private set; } = "";
    public MessageProbe Enqueued { get; private set; } = null!;
    public MessageProbe Finished { get; private set; } = null!;
    public MessageProbe Failed { get; private set; } = null!;
    /// <summary>The message ids the enqueuer's consumers finished: a redelivery absorbed leaves no other trace.</summary>
    public ConsumedMessages Consumed { get; } = new();

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var acme = await Bootstrap.CreateEntityWithAdminAsync(DataSource, "acme", "admin");
        EntityId = acme.EntityId;
        AgentKey = await Bootstrap.CreateServiceKeyAsync(DataSource, EntityId, "agent-1", [ApiKeys.Scopes.QueuesAgent]);
        SecondAgentKey = await Bootstrap.CreateServiceKeyAsync(DataSource, EntityId, "agent-2", [ApiKeys.Scopes.QueuesAgent]);
        ProducerKey = await Bootstrap.CreateServiceKeyAsync(DataSource, EntityId, "producer", [ApiKeys.Scopes.EventsWrite]);
        var globex = await Bootstrap.CreateEntityWithAdminAsync(DataSource, "globex", "boss");
        OtherEntityAgentKey = await Bootstrap.CreateServiceKeyAsync(DataSource, globex.EntityId, "agent", [ApiKeys.Scopes.QueuesAgent]);

        Enqueued = await MessageProbe.StartAsync(RabbitMqConnectionString, nameof(LaunchJobEnqueued));
        Finished = await MessageProbe.StartAsync(RabbitMqConnectionString, nameof(LaunchJobFinished));
        Failed = await MessageProbe.StartAsync(RabbitMqConnectionString, nameof(LaunchJobFailed));
        Enqueuer = await ServiceHost.StartAsync(LaunchEnqueuer.Program.Build, ServiceConfiguration());
        Enqueuer.Services.GetRequiredService<IBus>().ConnectConsumeObserver(Consumed);
    }

    /// <summary>
    /// Waits until anything the enqueuer wrote has been published and has reached <paramref name="probe"/>: the outbox
    /// is empty (a row leaves it once the broker confirmed its message), then the probe has caught up. A test that
    /// asserts an outcome was published once asserts after this.
    /// </summary>
    public async Task EverythingPublishedAsync(MessageProbe probe)
    {
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<int>("select count(*) from launch.outbox") == 0;
        }, "the launch outbox is drained");
        await probe.CatchUpAsync();
    }

    public override Dictionary<string, string?> ServiceConfiguration()
    {
        var config = base.ServiceConfiguration();
        config["Launch:LeaseSeconds"] = LeaseSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        config["Launch:MaxClaims"] = MaxClaims.ToString(System.Globalization.CultureInfo.InvariantCulture);
        config["Launch:SweepIntervalSeconds"] = "0.5";
        config["Launch:PollIntervalMilliseconds"] = "250";
        return config;
    }

    public override async Task DisposeAsync()
    {
        if (Enqueuer is not null) await Enqueuer.DisposeAsync();
        foreach (var probe in new[] { Enqueued, Finished, Failed })
            if (probe is not null) await probe.DisposeAsync();
        await base.DisposeAsync();
    }

    public async Task<Guid> CreateQueueAsync(string? name = null, Guid? entityId = null)
    {
        var id = Guid.CreateVersion7();
        await using var c = await DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("insert into control.launch_queues (id, entity_id, name) values (@id, @entityId, @name)",
            new { id, entityId = entityId ?? EntityId, name = name ?? "q-" + id.ToString("N") });
        return id;
    }

    /// <summary>A job with version 1 (command, args as JSON array, default config as JSON object).</summary>
    public async Task<Guid> CreateJobAsync(string command = "/bin/true", string argsJson = "[]", string defaultConfigJson = "{}")
    {
        var id = Guid.CreateVersion7();
        await using var c = await DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            """
            insert into control.launch_jobs (id, entity_id, name) values (@id, @entityId, @name);
            insert into control.launch_job_versions (job_id, version, command, args, default_config) values (@id, 1, @command, @argsJson::jsonb, @defaultConfigJson::jsonb);
            """, new { id, entityId = EntityId, name = "job-" + id.ToString("N"), command, argsJson, defaultConfigJson });
        return id;
    }

    public static EnqueueLaunchJob Command(Guid jobId, Guid queueId, string overridesJson = "{}", int jobVersion = 1, string? targetProject = "mnist-retrain") =>
        new(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), "acme", "mnist", jobId, jobVersion, queueId, targetProject, overridesJson,
            """{"eventType":"ADD_ARTIFACT_ALIAS","entity":"acme","project":"mnist","collection":"model","alias":"production"}""",
            DateTimeOffset.UtcNow);

    /// <summary>Publishes on the real broker through the service's own bus, as Rules would.</summary>
    public async Task PublishAsync(EnqueueLaunchJob command, Guid? messageId = null)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await Enqueuer.Services.GetRequiredService<IBus>().Publish(command, ctx => ctx.MessageId = messageId ?? Guid.NewGuid(), cts.Token);
    }

    public async Task<LaunchJobEnqueued> EnqueueAsync(EnqueueLaunchJob command)
    {
        await PublishAsync(command);
        var hit = await Enqueued.WaitForAsync(d => d.As<LaunchJobEnqueued>().CommandId == command.CommandId);
        return hit[0].As<LaunchJobEnqueued>();
    }

    public sealed class ItemRow
    {
        public Guid Id { get; set; }
        public string State { get; set; } = "";
        public int Claims { get; set; }
        public int? ExitCode { get; set; }
        public string? FailureReason { get; set; }
        public string? RunConfig { get; set; }
        public string? Command { get; set; }
        public string? Args { get; set; }
        public string? TargetProject { get; set; }
        public string Event { get; set; } = "";
    }

    public async Task<ItemRow?> ItemAsync(Guid id)
    {
        await using var c = await DataSource.OpenConnectionAsync();
        return await c.QuerySingleOrDefaultAsync<ItemRow>(
            """
            select id as Id, state as State, claims as Claims, exit_code as ExitCode, failure_reason as FailureReason, run_config::text as RunConfig,
                   command as Command, args::text as Args, target_project as TargetProject, event::text as Event
            from launch.queue_items where id = @id
            """, new { id });
    }

    public async Task<ItemRow[]> ItemsOfCommandAsync(Guid commandId)
    {
        await using var c = await DataSource.OpenConnectionAsync();
        var ids = await c.QueryAsync<Guid>("select id from launch.queue_items where command_id = @commandId", new { commandId });
        var rows = new List<ItemRow>();
        foreach (var id in ids) rows.Add((await ItemAsync(id))!);
        return [.. rows];
    }

    public Task<HttpResponseMessage> ClaimAsync(string? key, Guid queueId, int wait = 0, HttpClient? client = null) =>
        SendAsync(key, $"/v1/agent/queues/{queueId}/claim?wait={wait}", null, client);

    /// <summary>The claimed item, or null on 204.</summary>
    public async Task<JsonElement?> ClaimItemAsync(string key, Guid queueId, int wait = 0, HttpClient? client = null)
    {
        using var response = await ClaimAsync(key, queueId, wait, client);
        if (response.StatusCode == HttpStatusCode.NoContent) return null;
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public Task<HttpResponseMessage> ReportAsync(string key, JsonElement item, string what, object? extra = null, HttpClient? client = null)
    {
        var body = new Dictionary<string, object?> { ["leaseId"] = item.GetProperty("leaseId").GetGuid() };
        if (extra is not null)
            foreach (var p in JsonSerializer.SerializeToElement(extra).EnumerateObject()) body[p.Name] = p.Value;
        return SendAsync(key, $"/v1/agent/items/{item.GetProperty("id").GetGuid()}/{what}", body, client);
    }

    public async Task<HttpResponseMessage> SendAsync(string? key, string path, object? body, HttpClient? client = null)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = body is null ? null : JsonContent.Create(body) };
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await (client ?? Enqueuer.Client).SendAsync(request);
    }
}
