using System.Globalization;
using System.Net;
using Dapper;

namespace Automations.Api.Tests;

/// <summary>
/// Runs, deliveries, attempts and queue items answer with how far back they reach, from the Api's own `Retention`
/// section: a `retention` object in the list bodies that are objects, and headers on every history answer (the
/// deliveries list is a bare array).
/// </summary>
public class Saying_how_far_history_reaches(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private sealed record Seed(string Project, Guid AutomationId, Guid WebhookId, Guid DeliveryId, Guid QueueId);

    private async Task<Seed> SeedAsync()
    {
        var s = new Seed("p-" + Guid.NewGuid().ToString("N")[..8], Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await using var c = await fx.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            """
            insert into control.webhooks (id, entity_id, name, url) values (@WebhookId, @acme, 'reach-' || @Project, 'https://hooks.example.com/x');
            insert into control.launch_queues (id, entity_id, name) values (@QueueId, @acme, 'reach-' || @Project);
            insert into rules.runs (id, automation_id, automation_name, entity, project, event_id, producer_event_id, event_type, event,
                                    action_type, webhook_id, command_id, payload, status)
            values (gen_random_uuid(), @AutomationId, 'dispatch', 'acme', @Project, gen_random_uuid(), 'e-1', 'CREATE_ARTIFACT', '{}', 'webhook',
                    @WebhookId, gen_random_uuid(), '{}', 'Finished');
            insert into delivery.deliveries (id, command_id, run_id, event_id, automation_id, entity, project, webhook_id, payload, status,
                                             attempts, max_attempts, occurred_at)
            values (@DeliveryId, gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), @AutomationId, 'acme', @Project, @WebhookId, '{}',
                    'succeeded', 1, 2, now());
            """, new { s.Project, s.AutomationId, s.WebhookId, s.DeliveryId, s.QueueId, acme = fx.AcmeId });
        return s;
    }

    private static IEnumerable<string> HistoryPaths(Seed s) =>
    [
        $"/v1/entities/acme/projects/{s.Project}/automations/{s.AutomationId}/runs",
        $"/v1/entities/acme/webhooks/{s.WebhookId}/deliveries",
        $"/v1/entities/acme/deliveries/{s.DeliveryId}",
        $"/v1/entities/acme/queues/{s.QueueId}/items",
    ];

    private static DateTimeOffset Parse(string? text) => DateTimeOffset.Parse(text!, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    /// <summary>Asks every history endpoint of <paramref name="api"/> and checks the reach it states against <paramref name="keptFor"/>.</summary>
    private static async Task AssertReachAsync(HttpClient api, string key, Seed seed, string iso, TimeSpan keptFor)
    {
        foreach (var path in HistoryPaths(seed))
        {
            var before = DateTimeOffset.UtcNow;
            using var response = await ApiFixture.SendAsync(api, HttpMethod.Get, path, null, key);
            var after = DateTimeOffset.UtcNow;
            var text = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {text}");

            Assert.Equal(iso, Assert.Single(response.Headers.GetValues("Automations-History-Kept-For")));
            var since = Parse(Assert.Single(response.Headers.GetValues("Automations-History-Since")));
            // Whole seconds, between the request's start and end less the history.
            Assert.InRange(since, before - keptFor - TimeSpan.FromSeconds(1), after - keptFor);

            using var doc = System.Text.Json.JsonDocument.Parse(text);
            if (path.EndsWith("/runs", StringComparison.Ordinal) || path.EndsWith("/items", StringComparison.Ordinal))
            {
                var retention = doc.RootElement.GetProperty("retention");
                Assert.Equal(iso, retention.GetProperty("keptFor").GetString());
                Assert.Equal(since, Parse(retention.GetProperty("since").GetString()));
            }
        }
    }

    [Fact]
    public async Task Should_state_the_default_thirty_days_on_every_history_endpoint()
    {
        var seed = await SeedAsync();
        await AssertReachAsync(fx.Api.Client, fx.MemberKey, seed, "P30D", TimeSpan.FromDays(30));

        // The fields the answers had before are all still there.
        var runs = await fx.GetAsync(HistoryPaths(seed).First());
        Assert.Single(runs.Body.GetProperty("runs").EnumerateArray());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, runs.Body.GetProperty("nextBefore").ValueKind);
        var items = await fx.GetAsync($"/v1/entities/acme/queues/{seed.QueueId}/items");
        Assert.Equal(seed.QueueId, items.Body.GetProperty("queue").GetProperty("id").GetGuid());
        Assert.Empty(items.Body.GetProperty("items").EnumerateArray());
        var deliveries = await fx.GetAsync($"/v1/entities/acme/webhooks/{seed.WebhookId}/deliveries");
        Assert.Equal(seed.DeliveryId, Assert.Single(deliveries.Body.EnumerateArray()).GetProperty("id").GetGuid());
    }

    [Fact]
    public async Task Should_state_the_history_its_retention_section_configures()
    {
        var seed = await SeedAsync();
        var config = fx.ApiConfiguration();
        config["Retention:History"] = "2.12:00:00";
        config["Retention:Interval"] = "01:00:00";
        config["Retention:DedupeWindow"] = "1.00:00:00";
        await using var api = await fx.StartApiAsync(config);
        await AssertReachAsync(api.Client, fx.AdminKey, seed, "P2DT12H", TimeSpan.FromHours(60));
    }

    [Fact]
    public async Task Should_refuse_to_start_with_a_retention_the_other_services_would_refuse()
    {
        var config = fx.ApiConfiguration();
        config["Retention:History"] = "00:00:01";
        config["Retention:Interval"] = "1.00:00:00";
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => fx.StartApiAsync(config));
        Assert.Contains("Retention:History must be at least one Interval", ex.ToString());
    }
}
