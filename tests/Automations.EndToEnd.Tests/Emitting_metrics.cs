using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Automations.Testing;

namespace Automations.EndToEnd.Tests;

/// <summary>The metrics operators alert on, on the one "Automations" meter, with their tags.</summary>
public class Emitting_metrics(PipelineFixture fx) : IClassFixture<PipelineFixture>
{
    [Fact]
    public async Task Should_emit_every_documented_instrument_with_its_tags()
    {
        using var api = fx.ApiClient();
        // A webhook automation and a launch automation on the same event.
        (await api.PostAsJsonAsync("/v1/entities/acme/secrets", new { name = "M_SIGNING", value = "metrics-secret" })).EnsureSuccessStatusCode();
        (await api.PostAsJsonAsync("/v1/entities/acme/webhooks", new { name = "m-hook", url = new Uri(fx.Receiver.BaseAddress, "/metrics-hook").ToString(), secret = "M_SIGNING" })).EnsureSuccessStatusCode();
        (await api.PostAsJsonAsync("/v1/entities/acme/projects/metrics/automations", new
        {
            name = "m-webhook", @event = new { type = "CREATE_ARTIFACT", collection = "m-set" },
            action = new { type = "webhook", webhook = "m-hook", payload = """{"v": "${artifact_version_string}"}""" },
        })).EnsureSuccessStatusCode();
        var queue = await (await api.PostAsJsonAsync("/v1/entities/acme/queues", new { name = "m-queue" })).Content.ReadFromJsonAsync<JsonElement>();
        var job = await (await api.PostAsJsonAsync("/v1/entities/acme/jobs", new { name = "m-job" })).Content.ReadFromJsonAsync<JsonElement>();
        (await api.PostAsJsonAsync($"/v1/entities/acme/jobs/{job.GetProperty("id").GetGuid()}/versions", new { command = "/bin/true", args = Array.Empty<string>(), defaultConfig = new { lr = 0.1 } })).EnsureSuccessStatusCode();
        using var launch = await api.PostAsJsonAsync("/v1/entities/acme/projects/metrics/automations", new
        {
            name = "m-launch", @event = new { type = "CREATE_ARTIFACT", collection = "m-set" },
            action = new { type = "launch", job = "m-job", jobVersion = 1, overrides = new { lr = 0.2 }, queue = "m-queue" },
        });
        Assert.True(launch.IsSuccessStatusCode, await launch.Content.ReadAsStringAsync());
        await Task.Delay(300);

        async Task<HttpStatusCode> Post(object body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events") { Content = JsonContent.Create(body) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fx.AdminKey);
            using var response = await fx.Ingestion.Client.SendAsync(request);
            return response.StatusCode;
        }
        Assert.Equal(HttpStatusCode.Accepted, await Post(new { eventId = Guid.NewGuid().ToString(), eventType = "CREATE_ARTIFACT", entity = "acme", project = "metrics", collection = "m-set", versionIndex = 1, occurredAt = DateTimeOffset.UtcNow }));
        Assert.Equal(HttpStatusCode.BadRequest, await Post(new { eventId = "bad", eventType = "NOPE" }));

        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.Requests.Any(r => r.Path == "/metrics-hook")), "the webhook arrives", TimeSpan.FromSeconds(60));
        var queueId = queue.GetProperty("id").GetGuid();
        await Eventually.TrueAsync(async () =>
        {
            var items = await api.GetFromJsonAsync<JsonElement>($"/v1/entities/acme/queues/{queueId}/items");
            var list = items.ValueKind == JsonValueKind.Array ? items : items.GetProperty("items");
            return list.GetArrayLength() == 1;
        }, "the launch item is queued", TimeSpan.FromSeconds(60));
        await Task.Delay(1500);
        fx.Metrics.Collect();

        var seen = fx.Metrics.Measurements.ToList();
        void Expect(string instrument, params string[] tags)
        {
            var hits = seen.Where(m => m.Instrument == instrument).ToList();
            Assert.True(hits.Count > 0, $"no measurement of {instrument}; seen: {string.Join(", ", seen.Select(m => m.Instrument).Distinct().Order())}");
            foreach (var tag in tags)
                Assert.True(hits.Any(h => h.Tags.ContainsKey(tag)), $"{instrument} has no tag {tag}");
        }
        Expect("automations.events.accepted", "source", "event_type");
        Expect("automations.events.rejected", "source", "reason");
        Expect("automations.runs", "status");
        Expect("automations.rules.matching.duration");
        Expect("automations.deliveries", "outcome");
        Expect("automations.delivery.duration", "outcome");
        Expect("automations.event_to_delivery.latency");
        Expect("automations.deliveries.backlog");
        Expect("automations.outbox.lag", "schema");
        Expect("automations.outbox.published", "schema");
        Expect("automations.launch.items", "transition");
    }
}
