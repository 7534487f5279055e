using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Security;
using Automations.Persistence.Control;
using Automations.Testing;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

/// <summary>Rules makes the runs, the Api serves them: both real, on the same database and broker.</summary>
public class RunHistoryFixture : RulesFixture
{
    public ServiceHost Api { get; private set; } = null!;

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        Api = await ServiceHost.StartAsync(Automations.Api.Program.Build, ServiceConfiguration());
    }

    public override async Task DisposeAsync()
    {
        if (Api is not null) await Api.DisposeAsync();
        await base.DisposeAsync();
    }

    public async Task<HttpResponseMessage> GetAsync(string path, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await Api.Client.SendAsync(request);
    }
}

public class Reading_run_history(RunHistoryFixture fx) : IClassFixture<RunHistoryFixture>
{
    [Fact]
    public async Task Should_page_runs_newest_first_with_event_status_reason_target_and_payload()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        var automationId = await fx.CreateWebhookAutomationAsync(project,
            new AutomationSpec("dispatch", Payload: """{"ref":"${artifact_version_string}","token":"${GITHUB_TOKEN}"}"""));
        var events = new List<ArtifactEventReceived>();
        for (var i = 0; i < 3; i++)
        {
            var e = Event(project);
            events.Add(e);
            await fx.HandleAsync(e);
        }
        var newest = (await fx.RunsOfEventAsync(events[2].EventId)).Single();
        await fx.PublishAsync(new WebhookDeliveryFailed(newest.CommandId, newest.Id, Guid.NewGuid(), "HTTP 404", 404, 1, DateTimeOffset.UtcNow));
        await Eventually.TrueAsync(async () => (await fx.RunAsync(newest.Id)).Status == "Failed", "the newest run failed");

        var path = $"/v1/entities/acme/projects/{project}/automations/{automationId}/runs";
        using var first = await fx.GetAsync(path + "?limit=2", fx.AcmeAdminKey);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var page1 = JsonDocument.Parse(await first.Content.ReadAsStringAsync()).RootElement;
        var runs1 = page1.GetProperty("runs").EnumerateArray().ToList();
        Assert.Equal([events[2].ProducerEventId, events[1].ProducerEventId], runs1.Select(r => r.GetProperty("event").GetProperty("producerEventId").GetString()));
        var top = runs1[0];
        Assert.Equal(("Failed", "HTTP 404"), (top.GetProperty("status").GetString(), top.GetProperty("reason").GetString()));
        Assert.Equal(("webhook", fx.AcmeWebhookId), (top.GetProperty("action").GetProperty("type").GetString(), top.GetProperty("action").GetProperty("webhookId").GetGuid()));
        Assert.StartsWith("github-", top.GetProperty("action").GetProperty("webhookName").GetString(), StringComparison.Ordinal);
        Assert.Equal($"acme/{project}/eval-set:v3", top.GetProperty("payload").GetProperty("ref").GetString());
        Assert.Equal("${GITHUB_TOKEN}", top.GetProperty("payload").GetProperty("token").GetString());
        Assert.Equal("Pending", runs1[1].GetProperty("status").GetString());

        var next = page1.GetProperty("nextBefore").GetGuid();
        using var second = await fx.GetAsync($"{path}?limit=2&before={next}", fx.AcmeAdminKey);
        var page2 = JsonDocument.Parse(await second.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal([events[0].ProducerEventId], page2.GetProperty("runs").EnumerateArray().Select(r => r.GetProperty("event").GetProperty("producerEventId").GetString()));
        Assert.Equal(JsonValueKind.Null, page2.GetProperty("nextBefore").ValueKind);
    }

    [Fact]
    public async Task Should_refuse_what_the_key_may_not_see_and_name_the_bad_parameter()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        var automationId = await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("a"));
        var path = $"/v1/entities/acme/projects/{project}/automations/{automationId}/runs";
        var producerKey = await Bootstrap.CreateServiceKeyAsync(fx.DataSource, fx.AcmeId, "producer", [ApiKeys.Scopes.EventsWrite]);

        using (var r = await fx.GetAsync(path, null)) Assert.Equal(HttpStatusCode.Unauthorized, r.StatusCode);
        using (var r = await fx.GetAsync(path, fx.GlobexAdminKey)) Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        using (var r = await fx.GetAsync(path.Replace("/acme/", "/globex/", StringComparison.Ordinal), fx.GlobexAdminKey)) Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        using (var r = await fx.GetAsync(path.Replace(project, "elsewhere", StringComparison.Ordinal), fx.AcmeAdminKey)) Assert.Equal(HttpStatusCode.NotFound, r.StatusCode);
        using (var r = await fx.GetAsync(path, producerKey)) Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
        using (var r = await fx.GetAsync(path, fx.AcmeAdminKey)) Assert.Equal(HttpStatusCode.OK, r.StatusCode);

        foreach (var (query, field) in new[] { ("limit=0", "limit"), ("limit=101", "limit"), ("before=yesterday", "before"), ($"before={Guid.NewGuid()}", "before") })
        {
            using var r = await fx.GetAsync($"{path}?{query}", fx.AcmeAdminKey);
            Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
            Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
            var problem = JsonDocument.Parse(await r.Content.ReadAsStringAsync()).RootElement;
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{query} names {field}");
        }
    }
}
