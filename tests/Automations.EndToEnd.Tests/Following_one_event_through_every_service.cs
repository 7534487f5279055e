using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Automations.Persistence.Control;
using Automations.Contracts;
using Automations.Testing;
using Dapper;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Automations.EndToEnd.Tests;

/// <summary>
/// Api, Ingestion, Rules and WebhookSender, each a real host on 127.0.0.1, on the real broker and database; a real
/// receiver. One event goes in over HTTP; a signed webhook with the automation's rendered payload comes out.
/// </summary>
public class PipelineFixture : TestEnvironment
{
    public static readonly ActivitySource TestSource = new("Automations.EndToEnd.Tests");
    public SpanRecorder Spans { get; } = new();
    public ConcurrentMetrics Metrics { get; } = new();
    public ServiceHost Api { get; private set; } = null!;
    public ServiceHost Ingestion { get; private set; } = null!;
    public ServiceHost Rules { get; private set; } = null!;
    public ServiceHost Sender { get; private set; } = null!;
    public ServiceHost Launch { get; private set; } = null!;
    public Receiver Receiver { get; private set; } = null!;
    public string AdminKey { get; private set; } = "";
    /// <summary>Automation ids of the AutomationsChanged messages Rules has consumed: its cache of that project is dropped.</summary>
    public System.Collections.Concurrent.ConcurrentDictionary<Guid, bool> ChangesSeenByRules { get; } = new();
    public const string SigningSecret = "s3cr3t-signing-value";
    public const string AccessToken = "ghp_not-a-real-token-0123456789";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        AdminKey = (await Bootstrap.CreateEntityWithAdminAsync(DataSource, "acme", "admin")).ApiKey;
        Receiver = await Receiver.StartAsync();
        var config = ServiceConfiguration();
        Api = await ServiceHost.StartAsync(Automations.Api.Program.Build, config);
        Ingestion = await ServiceHost.StartAsync(Automations.Ingestion.Program.Build, config);
        await StartRulesAsync();
        Sender = await ServiceHost.StartAsync(Automations.WebhookSender.Program.Build, config);
        Launch = await ServiceHost.StartAsync(Automations.LaunchEnqueuer.Program.Build, config);
    }

    private async Task StartRulesAsync()
    {
        Rules = await ServiceHost.StartAsync(Automations.Rules.Program.Build, ServiceConfiguration());
        var bus = Rules.Services.GetRequiredService<IBus>();
        bus.ConnectConsumeObserver(new ChangesObserver(ChangesSeenByRules));
        OnRulesStarted(bus);
    }

    /// <summary>Called with the bus of every Rules host this fixture starts, the first and each restarted one.</summary>
    protected virtual void OnRulesStarted(IBus bus) { }

    /// <summary>Stops Rules (as a deployment's restart: the host stops, its in-memory state is gone) and starts a new one.</summary>
    public async Task RestartRulesAsync()
    {
        await Rules.DisposeAsync();
        await StartRulesAsync();
    }

    /// <summary>
    /// Waits until Rules has taken in the change of an automation: an event sent before that could still match the
    /// project's automations as Rules cached them before the change.
    /// </summary>
    public Task RulesSawChangeAsync(Guid automationId) =>
        Eventually.TrueAsync(() => Task.FromResult(ChangesSeenByRules.ContainsKey(automationId)), $"Rules consumed the change of automation {automationId}");

    private sealed class ChangesObserver(System.Collections.Concurrent.ConcurrentDictionary<Guid, bool> seen) : IConsumeObserver
    {
        public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

        public Task PostConsume<T>(ConsumeContext<T> context) where T : class
        {
            if (context.Message is AutomationsChanged { AutomationId: { } id }) seen[id] = true;
            return Task.CompletedTask;
        }

        public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    }

    public HttpClient ApiClient()
    {
        var client = new HttpClient { BaseAddress = Api.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        return client;
    }

    public override async Task DisposeAsync()
    {
        foreach (var host in new[] { Launch, Sender, Rules, Ingestion, Api })
            if (host is not null) await host.DisposeAsync();
        if (Receiver is not null) await Receiver.DisposeAsync();
        Spans.Dispose();
        Metrics.Dispose();
        await base.DisposeAsync();
    }
}

/// <summary>Every measurement on the "Automations" meter: instrument name and tag keys/values.</summary>
public sealed class ConcurrentMetrics : IDisposable
{
    private readonly MeterListener _listener = new();
    public System.Collections.Concurrent.ConcurrentQueue<(string Instrument, Dictionary<string, string?> Tags)> Measurements { get; } = new();

    public ConcurrentMetrics()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == "Automations") listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((i, _, tags, _) => Record(i, tags));
        _listener.SetMeasurementEventCallback<int>((i, _, tags, _) => Record(i, tags));
        _listener.SetMeasurementEventCallback<double>((i, _, tags, _) => Record(i, tags));
        _listener.Start();
    }

    private void Record(Instrument i, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        var dict = new Dictionary<string, string?>();
        foreach (var t in tags) dict[t.Key] = t.Value?.ToString();
        Measurements.Enqueue((i.Name, dict));
    }

    public void Collect() => _listener.RecordObservableInstruments();

    public void Dispose() => _listener.Dispose();
}

public class Following_one_event_through_every_service(PipelineFixture fx) : IClassFixture<PipelineFixture>
{
    private const string GitHubDispatchPayload = """
        {"event_type": "BUILD_AND_DEPLOY", "client_payload": {"event_author": "${event_author}", "artifact_version": "${artifact_version}",
         "artifact_version_string": "${artifact_version_string}", "artifact_collection_name": "${artifact_collection_name}",
         "project_name": "${project_name}", "entity_name": "${entity_name}"}}
        """;

    private async Task<Guid> WireAsync(HttpClient api, string name, string path)
    {
        (await api.PostAsJsonAsync("/v1/entities/acme/secrets", new { name = $"{name}_SIGNING", value = PipelineFixture.SigningSecret })).EnsureSuccessStatusCode();
        (await api.PostAsJsonAsync("/v1/entities/acme/secrets", new { name = $"{name}_TOKEN", value = PipelineFixture.AccessToken })).EnsureSuccessStatusCode();
        using var webhook = await api.PostAsJsonAsync("/v1/entities/acme/webhooks", new
        {
            name = $"{name}-dispatch",
            url = new Uri(fx.Receiver.BaseAddress, path).ToString(),
            secret = $"{name}_SIGNING",
            accessToken = $"{name}_TOKEN",
        });
        Assert.True(webhook.IsSuccessStatusCode, await webhook.Content.ReadAsStringAsync());
        using var automation = await api.PostAsJsonAsync("/v1/entities/acme/projects/mnist/automations", new
        {
            name = $"{name}-on-production",
            description = "dispatch the evaluate workflow",
            enabled = true,
            @event = new { type = "ADD_ARTIFACT_ALIAS", collection = "eval-set", aliasRegex = "^production$" },
            action = new { type = "webhook", webhook = $"{name}-dispatch", payload = GitHubDispatchPayload },
        });
        Assert.True(automation.IsSuccessStatusCode, await automation.Content.ReadAsStringAsync());
        return (await automation.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private async Task<(ActivityTraceId TraceId, string EventId)> SendEventAsync(string alias = "production")
    {
        var eventId = Guid.NewGuid().ToString();
        using var root = PipelineFixture.TestSource.StartActivity("producer sends an artifact event", ActivityKind.Producer)!;
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events")
        {
            Content = JsonContent.Create(new
            {
                eventId, eventType = "ADD_ARTIFACT_ALIAS", entity = "acme", project = "mnist", collection = "eval-set",
                versionId = "QXJ0aWZhY3Q6NTE3ODg5ODg3", versionIndex = 3, alias, author = "jane \"the\" tester",
                occurredAt = DateTimeOffset.UtcNow, metadata = new { accuracy = 0.93 },
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fx.AdminKey);
        using var response = await fx.Ingestion.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return (root.TraceId, eventId);
    }

    [Fact]
    public async Task Should_arrive_as_a_signed_webhook_with_the_rendered_payload_in_one_trace()
    {
        using var api = fx.ApiClient();
        var automationId = await WireAsync(api, "E2E", "/github/dispatches");
        await fx.RulesSawChangeAsync(automationId);
        var (traceId, _) = await SendEventAsync();

        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.Requests.Any(r => r.Path == "/github/dispatches")), "the webhook reaches the receiver", TimeSpan.FromSeconds(60));
        var received = fx.Receiver.Requests.Single(r => r.Path == "/github/dispatches");

        // The rendered payload, exactly.
        using var payload = JsonDocument.Parse(received.Body);
        Assert.Equal("BUILD_AND_DEPLOY", payload.RootElement.GetProperty("event_type").GetString());
        var client = payload.RootElement.GetProperty("client_payload");
        Assert.Equal("jane \"the\" tester", client.GetProperty("event_author").GetString());
        Assert.Equal("wandb-artifact://_id/QXJ0aWZhY3Q6NTE3ODg5ODg3", client.GetProperty("artifact_version").GetString());
        Assert.Equal("acme/mnist/eval-set:production", client.GetProperty("artifact_version_string").GetString());
        Assert.Equal(("eval-set", "mnist", "acme"), (client.GetProperty("artifact_collection_name").GetString(), client.GetProperty("project_name").GetString(), client.GetProperty("entity_name").GetString()));

        // Signed as W&B does, and as Standard Webhooks does; the access token as Bearer.
        var expectedWandb = Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(PipelineFixture.SigningSecret), received.Body));
        Assert.Equal(expectedWandb, received.Headers["x-wandb-signature"]);
        var signed = Encoding.UTF8.GetBytes($"{received.Headers["webhook-id"]}.{received.Headers["webhook-timestamp"]}.").Concat(received.Body).ToArray();
        Assert.Equal("v1," + Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(PipelineFixture.SigningSecret), signed)), received.Headers["webhook-signature"]);
        Assert.Equal($"Bearer {PipelineFixture.AccessToken}", received.Headers["authorization"]);
        Assert.Equal("application/json", received.Headers["content-type"].Split(';')[0]);

        // The receiver sees the producer's trace, and every span of this event, across all services, is one tree.
        Assert.StartsWith($"00-{traceId}-", received.Headers["traceparent"], StringComparison.Ordinal);
        // Some spans end after the request arrived (the sender's, once it recorded the outcome): wait for the last of them.
        var path = new[]
        {
            ("Automations", "outbox ArtifactEventReceived publish"),
            ("MassTransit", "Automations.Contracts:ArtifactEventReceived send"),
            ("MassTransit", "rules-artifact-events process"),
            ("Automations", "outbox SendWebhook publish"),
            ("MassTransit", "Automations.Contracts:SendWebhook send"),
            ("MassTransit", "send-webhook process"),
            ("Automations", "webhook deliver"),
        };
        HashSet<string> Commits() => fx.Spans.Stopped.Where(s => s.DisplayName.StartsWith("group commit ", StringComparison.Ordinal) && s.Links.Any(l => l.Context.TraceId == traceId))
            .Select(s => s.DisplayName).ToHashSet();
        try
        {
            await Eventually.TrueAsync(() => Task.FromResult(
                path.All(p => fx.Spans.Trace(traceId).Any(s => s.Source.Name == p.Item1 && s.DisplayName == p.Item2))
                && new[] { "ingestion", "rules", "delivery" }.All(schema => Commits().Contains("group commit " + schema))), "every span of the event has ended");
        }
        catch (TimeoutException) { /* the assertions below say what is missing */ }
        var spans = fx.Spans.Trace(traceId);
        var ids = spans.Select(s => s.SpanId).ToHashSet();
        var roots = spans.Where(s => !ids.Contains(s.ParentSpanId)).ToList();
        Assert.True(roots.Count == 1, "one root, found: " + string.Join(", ", roots.Select(r => $"{r.Source.Name}:{r.DisplayName}")));
        Assert.Equal("producer sends an artifact event", roots[0].DisplayName);
        var names = spans.Select(s => $"{s.Source.Name}:{s.Kind}:{s.DisplayName}").ToList();
        Assert.Contains(spans, s => s.Source.Name == "Microsoft.AspNetCore" && (s.DisplayName.Contains("/v1/events", StringComparison.Ordinal) || s.GetTagItem("http.route")?.ToString() == "/v1/events"));
        // Ingestion's outbox relay -> Rules' consumer -> Rules' outbox relay -> the sender's consumer -> the request.
        foreach (var (source, name) in path)
            Assert.True(spans.Any(s => s.Source.Name == source && s.DisplayName == name), $"no {source} span '{name}' in: {string.Join(" | ", names)}");
        // The group commits its writes rode in (their own traces: one batch serves many events) link back to this one:
        // the event stored, fired, delivered and recorded.
        var commits = Commits();
        foreach (var schema in new[] { "ingestion", "rules", "delivery" })
            Assert.True(commits.Contains("group commit " + schema), $"no group commit span of {schema} links to the event's trace: {string.Join(", ", commits)}");
        var deliver = spans.First(s => s.DisplayName == "webhook deliver");
        foreach (var tag in new[] { "automations.entity", "automations.project", "automations.automation_id", "delivery.id", "delivery.attempt", "http.response.status_code" })
            Assert.True(deliver.GetTagItem(tag) is not null, $"the delivery span lacks {tag}");
        Assert.Equal("acme", deliver.GetTagItem("automations.entity")?.ToString());
        var intake = spans.First(s => s.Source.Name == "Microsoft.AspNetCore" && s.DisplayName == "POST /v1/events");
        Assert.Equal(("acme", "mnist", "ADD_ARTIFACT_ALIAS"), (intake.GetTagItem("automations.entity")?.ToString(), intake.GetTagItem("automations.project")?.ToString(), intake.GetTagItem("automations.event_type")?.ToString()));
        var outgoing = spans.Where(s => s.Kind == ActivityKind.Client && s.Source.Name == "System.Net.Http" && s.GetTagItem("url.full")?.ToString()?.StartsWith(fx.Receiver.BaseAddress.ToString(), StringComparison.Ordinal) == true).ToList();
        Assert.True(outgoing.Count == 1, "spans: " + string.Join(" | ", names));
        Assert.Equal(received.Headers["traceparent"].Split('-')[2], outgoing[0].SpanId.ToHexString());
        Assert.All(spans, s => Assert.DoesNotContain(s.TagObjects, t => t.Value?.ToString()?.Contains(PipelineFixture.SigningSecret, StringComparison.Ordinal) == true || t.Value?.ToString()?.Contains(PipelineFixture.AccessToken, StringComparison.Ordinal) == true));

        // The run, seen through the Api's history, ends Finished.
        await Eventually.TrueAsync(async () =>
        {
            var runs = await api.GetFromJsonAsync<JsonElement>($"/v1/entities/acme/projects/mnist/automations/{automationId}/runs");
            var items = runs.GetProperty("runs");
            return items.GetArrayLength() == 1 && items[0].GetProperty("status").GetString() == "Finished";
        }, "the run is Finished", TimeSpan.FromSeconds(30));
    }

    [Fact]
    public async Task Should_continue_the_trace_of_a_launch_run_to_the_agents_claim()
    {
        using var api = fx.ApiClient();
        var queue = await (await api.PostAsJsonAsync("/v1/entities/acme/queues", new { name = "trace-queue" })).Content.ReadFromJsonAsync<JsonElement>();
        var job = await (await api.PostAsJsonAsync("/v1/entities/acme/jobs", new { name = "trace-job" })).Content.ReadFromJsonAsync<JsonElement>();
        (await api.PostAsJsonAsync($"/v1/entities/acme/jobs/{job.GetProperty("id").GetGuid()}/versions", new { command = "/bin/true", args = Array.Empty<string>(), defaultConfig = new { epochs = 3 } })).EnsureSuccessStatusCode();
        using var automation = await api.PostAsJsonAsync("/v1/entities/acme/projects/mnist/automations", new
        {
            name = "retrain-on-staging", @event = new { type = "ADD_ARTIFACT_ALIAS", aliasRegex = "^staging$" },
            action = new { type = "launch", job = "trace-job", jobVersion = 1, overrides = new { epochs = 5 }, targetProject = "mnist-train", queue = "trace-queue" },
        });
        Assert.True(automation.IsSuccessStatusCode, await automation.Content.ReadAsStringAsync());
        await fx.RulesSawChangeAsync((await automation.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        var (traceId, _) = await SendEventAsync(alias: "staging");

        var entityId = await fx.DataSource.OpenConnection().ExecuteScalarAsync<Guid>("select id from control.entities where name = 'acme'");
        var agentKey = await Bootstrap.CreateServiceKeyAsync(fx.DataSource, entityId, "agent", ["queues:agent"]);
        using var agent = new HttpClient { BaseAddress = fx.Launch.BaseAddress };
        agent.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", agentKey);
        using var claim = await agent.PostAsync($"/v1/agent/queues/{queue.GetProperty("id").GetGuid()}/claim?wait=20", null);
        Assert.Equal(HttpStatusCode.OK, claim.StatusCode);
        var item = await claim.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(5, item.GetProperty("config").GetProperty("epochs").GetInt32());
        Assert.Equal("mnist-train", item.GetProperty("targetProject").GetString());
        Assert.StartsWith($"00-{traceId}-", item.GetProperty("traceparent").GetString(), StringComparison.Ordinal);
    }
}
