using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Automations.Persistence.Control;
using Automations.Testing;
using Dapper;

namespace Automations.EndToEnd.Tests;

/// <summary>The whole pipeline (Launch included) with run URLs configured, as <see cref="RunEventsFixture"/> has them.</summary>
public sealed class RunActionsFixture : PipelineFixture
{
    public const string RunUrlBase = "https://wandb.example";

    public override Dictionary<string, string?> ServiceConfiguration()
    {
        var config = base.ServiceConfiguration();
        config["Rules:RunUrlBase"] = RunUrlBase;
        return config;
    }
}

/// <summary>
/// Run events through every service to the two actions that are not webhooks: a Slack notification whose title and
/// text take the run's template variables (Block Kit at the Slack stand-in), and a Launch job whose overrides take
/// them (a queue item an agent claims, with the run in its config).
/// </summary>
public class Notifying_and_launching_on_runs(RunActionsFixture fx) : IClassFixture<RunActionsFixture>
{
    private const string Automations = "/v1/entities/acme/projects/mnist/automations";

    private async Task<Guid> PostEventAsync(object body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events") { Content = JsonContent.Create(body) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fx.AdminKey);
        using var response = await fx.Ingestion.Client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.Accepted, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private async Task<Guid> CreateAsync(HttpClient api, string path, object body)
    {
        using var created = await api.PostAsJsonAsync(path, body);
        Assert.True(created.IsSuccessStatusCode, await created.Content.ReadAsStringAsync());
        return (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private static async Task<JsonElement> RunsAsync(HttpClient api, Guid automationId) =>
        (await api.GetFromJsonAsync<JsonElement>($"{Automations}/{automationId}/runs")).GetProperty("runs");

    private static object State(string runId, string state, int second) => new
    {
        eventId = Guid.NewGuid().ToString(), eventType = "RUN_STATE", entity = "acme", project = "mnist", runId, runName = "glad-sky-7",
        user = "jane", tags = new[] { "baseline", "nightly" }, state, occurredAt = new DateTimeOffset(2026, 12, 3, 21, 0, second, TimeSpan.Zero),
    };

    [Fact]
    public async Task Should_post_block_kit_with_the_runs_variables_to_slack_when_a_metric_crosses()
    {
        using var api = fx.ApiClient();
        const string path = "/services/T0RUNS/B0RUNS/xoxRUNSsecret0123456789";
        await CreateAsync(api, "/v1/entities/acme/integrations", new { name = "run-alerts", kind = "slack", url = fx.Receiver.Url(path) });
        var automation = await CreateAsync(api, Automations, new
        {
            name = "loss-low",
            @event = new { type = "RUN_METRIC_THRESHOLD", metric = new { name = "val_loss", cmp = "<", threshold = 0.2 } },
            action = new
            {
                type = "notification", integration = "run-alerts", severity = "info",
                title = "${run_name}: ${metric_name} is ${metric_value}",
                text = "<${run_url}|${run_id}> by ${run_user} at step ${run_step}: ${metric_agg}(${metric_name}) < ${metric_threshold}",
            },
        });
        await fx.RulesSawChangeAsync(automation);

        var run = "run" + Guid.NewGuid().ToString("N")[..8];
        foreach (var (step, loss) in new[] { (1L, 0.5), (2L, 0.125), (3L, 0.1) })
            await PostEventAsync(new
            {
                eventId = Guid.NewGuid().ToString(), eventType = "RUN_METRIC", entity = "acme", project = "mnist", runId = run, runName = "glad-sky-7",
                user = "jane", step, metrics = new Dictionary<string, double> { ["val_loss"] = loss, ["accuracy"] = 0.9 },
                occurredAt = new DateTimeOffset(2026, 12, 3, 21, 0, (int)step, TimeSpan.Zero),
            });

        // Step 2 crosses below 0.2; step 3 stays below and does not fire again.
        await Eventually.TrueAsync(async () => (await RunsAsync(api, automation)) is { } runs && runs.GetArrayLength() == 1 && runs[0].GetProperty("status").GetString() == "Finished",
            "the notification run is Finished", TimeSpan.FromSeconds(60));
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(path).Count == 1), "Slack received the notification", TimeSpan.FromSeconds(30));
        using var message = JsonDocument.Parse(fx.Receiver.On(path)[0].Body);
        var m = message.RootElement;
        Assert.Equal(":information_source: glad-sky-7: val_loss is 0.125", m.GetProperty("text").GetString());
        var blocks = m.GetProperty("blocks");
        Assert.Equal(("header", ":information_source: glad-sky-7: val_loss is 0.125"), (blocks[0].GetProperty("type").GetString(), blocks[0].GetProperty("text").GetProperty("text").GetString()));
        Assert.Equal(("section", $"<{RunActionsFixture.RunUrlBase}/acme/mnist/runs/{run}|{run}> by jane at step 2: LATEST(val_loss) < 0.2"),
            (blocks[1].GetProperty("type").GetString(), blocks[1].GetProperty("text").GetProperty("text").GetString()));
        Assert.Equal(":information_source: *INFO* · loss-low · acme/mnist", blocks[2].GetProperty("elements")[0].GetProperty("text").GetString());
        Assert.Equal(1, (await RunsAsync(api, automation)).GetArrayLength());
    }

    [Fact]
    public async Task Should_queue_a_launch_job_with_the_runs_variables_in_its_overrides()
    {
        using var api = fx.ApiClient();
        var queueId = await CreateAsync(api, "/v1/entities/acme/queues", new { name = "run-queue" });
        var jobId = await CreateAsync(api, "/v1/entities/acme/jobs", new { name = "evaluate-run" });
        using (var version = await api.PostAsJsonAsync($"/v1/entities/acme/jobs/{jobId}/versions", new { command = "/bin/true", args = Array.Empty<string>(), defaultConfig = new { epochs = 3, lr = 0.1 } }))
            Assert.True(version.IsSuccessStatusCode, await version.Content.ReadAsStringAsync());
        var automation = await CreateAsync(api, Automations, new
        {
            name = "evaluate-finished",
            @event = new { type = "RUN_STATE", state = "finished", runNameRegex = "^glad" },
            action = new
            {
                type = "launch", job = "evaluate-run", jobVersion = 1, queue = "run-queue", targetProject = "mnist-eval",
                overrides = new { epochs = 5, run = "${run_id}", name = "${run_name}", state = "${run_state}", user = "${run_user}", tags = "${run_tags}", url = "${run_url}" },
            },
        });
        await fx.RulesSawChangeAsync(automation);

        var run = "run" + Guid.NewGuid().ToString("N")[..8];
        await PostEventAsync(State(run, "running", 1));
        await PostEventAsync(State(run, "finished", 2));

        await using var c = await fx.DataSource.OpenConnectionAsync();
        var entityId = await c.ExecuteScalarAsync<Guid>("select id from control.entities where name = 'acme'");
        var agentKey = await Bootstrap.CreateServiceKeyAsync(fx.DataSource, entityId, "run-agent", ["queues:agent"]);
        using var agent = new HttpClient { BaseAddress = fx.Launch.BaseAddress };
        agent.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", agentKey);
        using var claim = await agent.PostAsync($"/v1/agent/queues/{queueId}/claim?wait=20", null);
        Assert.True(claim.StatusCode == HttpStatusCode.OK, await claim.Content.ReadAsStringAsync());
        var item = await claim.Content.ReadFromJsonAsync<JsonElement>();
        var config = item.GetProperty("config");
        Assert.Equal((5, 0.1), (config.GetProperty("epochs").GetInt32(), config.GetProperty("lr").GetDouble()));
        Assert.Equal((run, "glad-sky-7", "finished", "jane", "baseline,nightly"),
            (config.GetProperty("run").GetString(), config.GetProperty("name").GetString(), config.GetProperty("state").GetString(),
             config.GetProperty("user").GetString(), config.GetProperty("tags").GetString()));
        Assert.Equal($"{RunActionsFixture.RunUrlBase}/acme/mnist/runs/{run}", config.GetProperty("url").GetString());
        Assert.Equal("mnist-eval", item.GetProperty("targetProject").GetString());

        // "running" fired nothing: one run, one queue item, which keeps the run event that fired it.
        Assert.Equal(1, (await RunsAsync(api, automation)).GetArrayLength());
        var events = (await c.QueryAsync<string>("select event->>'runId' || ' ' || (event->>'state') from launch.queue_items where automation_id = @automation",
            new { automation })).ToList();
        Assert.Equal([$"{run} finished"], events);
    }
}
