using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Automations.Testing;

namespace Automations.EndToEnd.Tests;

/// <summary>
/// The listener of <see cref="ConcurrentMetrics"/> hears every host in the test process, so a class that checks what
/// its own hosts emit runs alone: after the parallel classes, whose hosts are gone by then.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "metrics, alone";
}

/// <summary>The metrics operators alert on, on the one "Automations" meter, with their tags.</summary>
[Collection(MetricsCollection.Name)]
public class Emitting_metrics(PipelineFixture fx) : IClassFixture<PipelineFixture>
{
    [Fact]
    public async Task Should_emit_every_documented_instrument_with_its_tags()
    {
        using var api = fx.ApiClient();
        // A webhook automation and a launch automation on the same event.
        (await api.PostAsJsonAsync("/v1/entities/acme/secrets", new { name = "M_SIGNING", value = "metrics-secret" })).EnsureSuccessStatusCode();
        (await api.PostAsJsonAsync("/v1/entities/acme/webhooks", new { name = "m-hook", url = new Uri(fx.Receiver.BaseAddress, "/metrics-hook").ToString(), secret = "M_SIGNING" })).EnsureSuccessStatusCode();
        using var webhookAutomation = await api.PostAsJsonAsync("/v1/entities/acme/projects/metrics/automations", new
        {
            name = "m-webhook", @event = new { type = "CREATE_ARTIFACT", collection = "m-set" },
            action = new { type = "webhook", webhook = "m-hook", payload = """{"v": "${artifact_version_string}"}""" },
        });
        webhookAutomation.EnsureSuccessStatusCode();
        var queue = await (await api.PostAsJsonAsync("/v1/entities/acme/queues", new { name = "m-queue" })).Content.ReadFromJsonAsync<JsonElement>();
        var job = await (await api.PostAsJsonAsync("/v1/entities/acme/jobs", new { name = "m-job" })).Content.ReadFromJsonAsync<JsonElement>();
        (await api.PostAsJsonAsync($"/v1/entities/acme/jobs/{job.GetProperty("id").GetGuid()}/versions", new { command = "/bin/true", args = Array.Empty<string>(), defaultConfig = new { lr = 0.1 } })).EnsureSuccessStatusCode();
        using var launch = await api.PostAsJsonAsync("/v1/entities/acme/projects/metrics/automations", new
        {
            name = "m-launch", @event = new { type = "CREATE_ARTIFACT", collection = "m-set" },
            action = new { type = "launch", job = "m-job", jobVersion = 1, overrides = new { lr = 0.2 }, queue = "m-queue" },
        });
        Assert.True(launch.IsSuccessStatusCode, await launch.Content.ReadAsStringAsync());
        await fx.RulesSawChangeAsync((await webhookAutomation.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
        await fx.RulesSawChangeAsync((await launch.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());

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

        // Some are recorded after the webhook arrived (the sender's, once it recorded the outcome) or only when
        // observed: collect until every one is there, then say which are missing.
        var expected = new (string Instrument, string[] Tags)[]
        {
            ("automations.events.accepted", ["source", "event_type"]),
            ("automations.events.rejected", ["source", "reason"]),
            ("automations.runs", ["status"]),
            ("automations.rules.matching.duration", []),
            ("automations.deliveries", ["outcome"]),
            ("automations.delivery.duration", ["outcome"]),
            ("automations.event_to_delivery.latency", []),
            ("automations.deliveries.backlog", []),
            ("automations.outbox.lag", ["schema"]),
            ("automations.outbox.published", ["schema", "path"]),
            ("automations.launch.items", ["transition"]),
        };
        List<string> Missing()
        {
            fx.Metrics.Collect();
            var seen = fx.Metrics.Measurements.ToList();
            var missing = new List<string>();
            foreach (var (instrument, tags) in expected)
            {
                var hits = seen.Where(m => m.Instrument == instrument).ToList();
                if (hits.Count == 0) missing.Add($"no measurement of {instrument}");
                else missing.AddRange(tags.Where(tag => !hits.Any(h => h.Tags.ContainsKey(tag))).Select(tag => $"{instrument} has no tag {tag}"));
            }
            return missing;
        }
        try { await Eventually.TrueAsync(() => Task.FromResult(Missing().Count == 0), "every instrument was measured", TimeSpan.FromSeconds(30), TimeSpan.FromMilliseconds(250)); }
        catch (TimeoutException) { /* the assertion says what is missing */ }
        Assert.Empty(Missing());
    }
}
