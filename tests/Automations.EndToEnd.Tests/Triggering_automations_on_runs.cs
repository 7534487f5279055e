using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Automations.Contracts;
using Automations.Persistence.Control;
using Automations.Testing;
using Dapper;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Automations.EndToEnd.Tests;

/// <summary>Api, Ingestion, Rules (which the tests restart) and WebhookSender on the real broker and database; a real receiver.</summary>
public class RunEventsFixture : TestEnvironment
{
    public ServiceHost Api { get; private set; } = null!;
    public ServiceHost Ingestion { get; private set; } = null!;
    public ServiceHost Rules { get; private set; } = null!;
    public ServiceHost Sender { get; private set; } = null!;
    public Receiver Receiver { get; private set; } = null!;
    public string AdminKey { get; private set; } = "";
    public string ProducerKey { get; private set; } = "";
    public ConcurrentDictionary<Guid, bool> ChangesSeenByRules { get; } = new();
    public const string RunUrlBase = "https://wandb.example";

    public override Dictionary<string, string?> ServiceConfiguration()
    {
        var config = base.ServiceConfiguration();
        config["Rules:RunUrlBase"] = RunUrlBase;
        return config;
    }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var acme = await Bootstrap.CreateEntityWithAdminAsync(DataSource, "acme", "admin");
        AdminKey = acme.ApiKey;
        ProducerKey = await Bootstrap.CreateServiceKeyAsync(DataSource, acme.EntityId, "trainer", [Automations.Core.Security.ApiKeys.Scopes.EventsWrite]);
        Receiver = await Receiver.StartAsync();
        Api = await ServiceHost.StartAsync(Automations.Api.Program.Build, ServiceConfiguration());
        Ingestion = await ServiceHost.StartAsync(Automations.Ingestion.Program.Build, ServiceConfiguration());
        await StartRulesAsync();
        Sender = await ServiceHost.StartAsync(Automations.WebhookSender.Program.Build, ServiceConfiguration());
    }

    private async Task StartRulesAsync()
    {
        Rules = await ServiceHost.StartAsync(Automations.Rules.Program.Build, ServiceConfiguration());
        Rules.Services.GetRequiredService<IBus>().ConnectConsumeObserver(new ChangesObserver(ChangesSeenByRules));
    }

    /// <summary>Stops Rules (as a deployment's restart: the host stops, its in-memory state is gone) and starts a new one.</summary>
    public async Task RestartRulesAsync()
    {
        await Rules.DisposeAsync();
        await StartRulesAsync();
    }

    public Task RulesSawChangeAsync(Guid automationId) =>
        Eventually.TrueAsync(() => Task.FromResult(ChangesSeenByRules.ContainsKey(automationId)), $"Rules consumed the change of automation {automationId}");

    public HttpClient ApiClient()
    {
        var client = new HttpClient { BaseAddress = Api.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        return client;
    }

    /// <summary>Posts one event as the producer; answers Ingestion's id (the message id of its RunEventReceived).</summary>
    public async Task<Guid> PostEventAsync(object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events") { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ProducerKey);
        using var response = await Ingestion.Client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    /// <summary>Waits until Rules has handled (committed) the message: its inbox mark is there.</summary>
    public Task RulesHandledAsync(Guid messageId) =>
        Eventually.TrueAsync(async () =>
        {
            await using var c = await DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<bool>("select exists (select from rules.inbox where consumer = 'rules-run-events' and message_id = @messageId)", new { messageId });
        }, $"Rules handled message {messageId}", TimeSpan.FromSeconds(60));

    public async Task<int> RunsOfAsync(Guid automationId)
    {
        await using var c = await DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<int>("select count(*) from rules.runs where automation_id = @automationId", new { automationId });
    }

    private sealed class ChangesObserver(ConcurrentDictionary<Guid, bool> seen) : IConsumeObserver
    {
        public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

        public Task PostConsume<T>(ConsumeContext<T> context) where T : class
        {
            if (context.Message is AutomationsChanged { AutomationId: { } id }) seen[id] = true;
            return Task.CompletedTask;
        }

        public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => Task.CompletedTask;
    }

    public override async Task DisposeAsync()
    {
        foreach (var host in new[] { Sender, Rules, Ingestion, Api })
            if (host is not null) await host.DisposeAsync();
        if (Receiver is not null) await Receiver.DisposeAsync();
        await base.DisposeAsync();
    }
}

/// <summary>
/// RUN_STATE and RUN_METRIC events in over HTTP, signed webhooks out: a state automation fires when the run enters the
/// state; a threshold automation fires once per crossing, through a redelivery and a restart of Rules mid-window.
/// </summary>
public class Triggering_automations_on_runs(RunEventsFixture fx) : IClassFixture<RunEventsFixture>
{
    private const string Payload = """
        {"run":"${run_id}","name":"${run_name}","state":"${run_state}","user":"${run_user}","url":"${run_url}",
         "metric":"${metric_name}","value":"${metric_value}","threshold":"${metric_threshold}","automation":"${automation_name}"}
        """;

    private async Task<Guid> CreateAsync(string name, string path, object @event)
    {
        using var api = fx.ApiClient();
        using (var webhook = await api.PostAsJsonAsync("/v1/entities/acme/webhooks", new { name, url = fx.Receiver.Url(path) }))
            Assert.True(webhook.IsSuccessStatusCode, await webhook.Content.ReadAsStringAsync());
        using var automation = await api.PostAsJsonAsync("/v1/entities/acme/projects/mnist/automations", new
        {
            name, @event, action = new { type = "webhook", webhook = name, payload = Payload },
        });
        Assert.True(automation.StatusCode == HttpStatusCode.Created, await automation.Content.ReadAsStringAsync());
        var id = (await automation.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await fx.RulesSawChangeAsync(id);
        return id;
    }

    private static object State(string runId, string state, string runName = "glad-sky-7", string user = "jane", int second = 0) => new
    {
        eventId = Guid.NewGuid().ToString(), eventType = "RUN_STATE", entity = "acme", project = "mnist", runId, runName, user, state,
        occurredAt = new DateTimeOffset(2026, 12, 3, 21, 0, second, TimeSpan.Zero),
    };

    private static object Metric(string runId, long step, double value, string? eventId = null) => new
    {
        eventId = eventId ?? Guid.NewGuid().ToString(), eventType = "RUN_METRIC", entity = "acme", project = "mnist", runId, runName = "bright-owl-3",
        user = "jane", step, metrics = new Dictionary<string, double> { ["val_loss"] = value, ["accuracy"] = 0.5 },
        occurredAt = new DateTimeOffset(2026, 12, 3, 21, 0, 0, TimeSpan.Zero).AddSeconds(step),
    };

    [Fact]
    public async Task Should_fire_a_run_state_automation_once_when_a_run_enters_the_state()
    {
        const string path = "/hooks/finished";
        var automation = await CreateAsync("on-finished", path,
            new { type = "RUN_STATE", state = "finished", runNameRegex = "^glad", user = "jane" });

        var run = "run" + Guid.NewGuid().ToString("N")[..8];
        var sent = new List<Guid>
        {
            await fx.PostEventAsync(State(run, "running", second: 1)),
            await fx.PostEventAsync(State(run, "finished", second: 2)),
            // The same state reported again (a new eventId): the run does not enter it again.
            await fx.PostEventAsync(State(run, "finished", second: 3)),
            // Filtered out: another user, a name the regex does not find.
            await fx.PostEventAsync(State("other" + run, "finished", user: "bob", second: 4)),
            await fx.PostEventAsync(State("third" + run, "finished", runName: "sad-sky-1", second: 5)),
        };
        foreach (var id in sent) await fx.RulesHandledAsync(id);

        Assert.Equal(1, await fx.RunsOfAsync(automation));
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(path).Count == 1), "the webhook reaches the receiver", TimeSpan.FromSeconds(60));
        using var body = JsonDocument.Parse(fx.Receiver.On(path)[0].BodyText);
        var p = body.RootElement;
        Assert.Equal(run, p.GetProperty("run").GetString());
        Assert.Equal("glad-sky-7", p.GetProperty("name").GetString());
        Assert.Equal("finished", p.GetProperty("state").GetString());
        Assert.Equal("jane", p.GetProperty("user").GetString());
        Assert.Equal($"{RunEventsFixture.RunUrlBase}/acme/mnist/runs/{run}", p.GetProperty("url").GetString());
        Assert.Equal("", p.GetProperty("metric").GetString());
        Assert.NotNull(fx.Receiver.On(path)[0].Header("webhook-id"));
    }

    [Fact]
    public async Task Should_fire_a_threshold_once_per_crossing_through_a_redelivery_and_a_restart()
    {
        const string path = "/hooks/loss";
        var automation = await CreateAsync("loss-below", path,
            new { type = "RUN_METRIC_THRESHOLD", metric = new { name = "val_loss", agg = "AVERAGE", window = 3, cmp = "<", threshold = 0.3 } });
        var run = "run" + Guid.NewGuid().ToString("N")[..8];

        async Task<Guid> Send(long step, double value, string? eventId = null)
        {
            var id = await fx.PostEventAsync(Metric(run, step, value, eventId));
            await fx.RulesHandledAsync(id);
            return id;
        }

        await Send(1, 0.5);
        await Send(2, 0.4);
        // Mid-window: the two values are in Rules' state, not in its memory.
        await fx.RestartRulesAsync();
        await Send(3, 0.1);                          // avg(0.5, 0.4, 0.1) = 0.333: not below
        var crossing = await Send(4, 0.05);          // avg(0.4, 0.1, 0.05) = 0.183: fires (needs steps 1-2 from before the restart)
        Assert.Equal(1, await fx.RunsOfAsync(automation));

        // The same message again (a broker redelivery: same message id) and the same value under another message id.
        var bus = fx.Rules.Services.GetRequiredService<IBus>();
        var replay = new RunEventReceived(crossing, "replayed", "RUN_METRIC", "acme", "mnist", run, "bright-owl-3", "jane", null, null, 4,
            new Dictionary<string, double> { ["val_loss"] = 0.05 }, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
        await bus.Publish(replay, c => c.MessageId = crossing);
        var other = Guid.NewGuid();
        await bus.Publish(replay with { EventId = other }, c => c.MessageId = other);
        await fx.RulesHandledAsync(other);

        await Send(5, 0.1);                          // 0.083: still below, no second fire
        await Send(6, 1.2);                          // 0.45: back above
        await Send(7, 1.2);
        await Send(8, 0.0);                          // 0.8
        await Send(9, 0.0);                          // 0.4: not below
        await Send(10, 0.0);                         // 0.0: crosses again, fires

        Assert.Equal(2, await fx.RunsOfAsync(automation));
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(path).Count == 2), "both webhooks reach the receiver", TimeSpan.FromSeconds(60));
        var values = fx.Receiver.On(path).Select(r => JsonDocument.Parse(r.BodyText).RootElement.GetProperty("value").GetString()).Order().ToList();
        Assert.Equal(2, values.Count);
        Assert.Equal(0.0, double.Parse(values[0]!, System.Globalization.CultureInfo.InvariantCulture), 10);
        Assert.Equal(0.55 / 3, double.Parse(values[1]!, System.Globalization.CultureInfo.InvariantCulture), 10);
        var first = JsonDocument.Parse(fx.Receiver.On(path)[0].BodyText).RootElement;
        Assert.Equal(("val_loss", "0.3", run), (first.GetProperty("metric").GetString(), first.GetProperty("threshold").GetString(), first.GetProperty("run").GetString()));
    }

    [Fact]
    public async Task Should_fire_a_change_automation_when_the_metric_rises_between_windows()
    {
        const string path = "/hooks/rise";
        var automation = await CreateAsync("loss-rise", path, new
        {
            type = "RUN_METRIC_CHANGE",
            metric = new { name = "val_loss", agg = "AVERAGE", window = 2, priorWindow = 2, changeType = "RELATIVE", changeDir = "INCREASE", changeAmount = 0.5 },
        });
        var run = "run" + Guid.NewGuid().ToString("N")[..8];
        foreach (var (step, value) in new[] { (1L, 1.0), (2L, 1.0), (3L, 1.0), (4L, 2.0), (5L, 2.0), (6L, 2.0) })
            await fx.RulesHandledAsync(await fx.PostEventAsync(Metric(run, step, value)));
        // Step 4: prior avg(1, 1) = 1, current avg(1, 2) = 1.5: +50 %, fires; it keeps holding at step 5, and not at 6.
        Assert.Equal(1, await fx.RunsOfAsync(automation));
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(path).Count == 1), "the webhook reaches the receiver", TimeSpan.FromSeconds(60));
        Assert.Equal("1.5", JsonDocument.Parse(fx.Receiver.On(path)[0].BodyText).RootElement.GetProperty("value").GetString());
    }

    [Fact]
    public async Task Should_record_a_no_op_run_for_a_run_event_and_send_nothing()
    {
        using var api = fx.ApiClient();
        using var created = await api.PostAsJsonAsync("/v1/entities/acme/projects/mnist/automations", new
        {
            name = "try-crashed", @event = new { type = "RUN_STATE", state = "crashed" }, action = new { type = "no_op" },
        });
        Assert.True(created.StatusCode == HttpStatusCode.Created, await created.Content.ReadAsStringAsync());
        var automation = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        await fx.RulesSawChangeAsync(automation);

        var run = "run" + Guid.NewGuid().ToString("N")[..8];
        await fx.RulesHandledAsync(await fx.PostEventAsync(State(run, "crashed", second: 1)));

        await using var c = await fx.DataSource.OpenConnectionAsync();
        var (status, reason, payload) = await c.QuerySingleAsync<(string, string, string?)>(
            "select status, reason, payload from rules.runs where automation_id = @automation", new { automation });
        Assert.Equal("Finished", status);
        Assert.StartsWith("no-op", reason, StringComparison.Ordinal);
        Assert.Null(payload);
    }
}
