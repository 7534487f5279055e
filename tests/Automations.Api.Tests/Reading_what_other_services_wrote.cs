using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Dapper;

namespace Automations.Api.Tests;

/// <summary>
/// The Api reads runs, deliveries, attempts and queue items only through the views their writers publish
/// (docs/architecture.md, "Data"), so Rules, the WebhookSender and the LaunchEnqueuer may reshape their tables.
/// The test user cannot create roles, so the check is on every statement the Api sends to this class's database
/// (Npgsql's traces): no search_path reaches another service's schema, so each reference to one is schema-qualified.
/// </summary>
public partial class Reading_what_other_services_wrote(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private static readonly string[] Views =
        ["rules.run_history", "delivery.delivery_history", "delivery.attempt_history", "delivery.incident_history", "launch.queue_item_history",
         "ingestion.event_projects"];

    [GeneratedRegex(@"\b(?:ingestion|rules|delivery|launch)\.[a-z_]+\b")]
    private static partial Regex OtherSchemaObject();

    [Fact]
    public async Task Should_serve_runs_deliveries_and_queue_items_from_the_views_their_writers_publish_only()
    {
        var seed = await SeedAsync();
        var statements = new ConcurrentQueue<string>();
        using (Capture(fx.DatabaseName, statements))
        {
            var runs = $"/v1/entities/acme/projects/{seed.Project}/automations/{seed.AutomationId}/runs";
            var page1 = await fx.GetAsync(runs + "?limit=1");
            Assert.Equal(HttpStatusCode.OK, page1.Status);
            var newest = Assert.Single(page1.Body.GetProperty("runs").EnumerateArray());
            Assert.Equal(seed.NewRunId, newest.GetProperty("id").GetGuid());
            Assert.Equal("hook", newest.GetProperty("action").GetProperty("webhookName").GetString());
            var page2 = await fx.GetAsync($"{runs}?limit=1&before={page1.Body.GetProperty("nextBefore").GetGuid()}");
            Assert.Equal(seed.OldRunId, Assert.Single(page2.Body.GetProperty("runs").EnumerateArray()).GetProperty("id").GetGuid());

            var list = await fx.GetAsync($"/v1/entities/acme/webhooks/{seed.WebhookId}/deliveries", fx.MemberKey);
            Assert.Equal(seed.DeliveryId, Assert.Single(list.Body.EnumerateArray()).GetProperty("id").GetGuid());
            var delivery = await fx.GetAsync($"/v1/entities/acme/deliveries/{seed.DeliveryId}", fx.MemberKey);
            Assert.Equal("failed", delivery.Body.GetProperty("status").GetString());
            var attempts = delivery.Body.GetProperty("attemptLog").EnumerateArray().ToList();
            Assert.Equal([1, 2], attempts.Select(a => a.GetProperty("number").GetInt32()));
            Assert.Equal(JsonValueKind.Null, attempts[0].GetProperty("responseBody").ValueKind);
            Assert.Equal(JsonValueKind.Null, attempts[0].GetProperty("responseHeaders").ValueKind);
            Assert.Equal("masked: ********", attempts[1].GetProperty("responseBody").GetString());
            Assert.Equal("y", attempts[1].GetProperty("responseHeaders").GetProperty("x").GetString());
            Assert.Equal(HttpStatusCode.Accepted, (await fx.PostAsync($"/v1/entities/acme/deliveries/{seed.DeliveryId}/redeliver", null)).Status);
            var failed = await fx.PostAsync($"/v1/entities/acme/webhooks/{seed.WebhookId}/redeliver-failed", null);
            Assert.Equal(1, failed.Body.GetProperty("deliveries").GetInt32());
            var incidents = await fx.GetAsync($"/v1/entities/acme/webhooks/{seed.WebhookId}/incidents", fx.MemberKey);
            Assert.Equal(HttpStatusCode.OK, incidents.Status);

            var items = await fx.GetAsync($"/v1/entities/acme/queues/{seed.QueueId}/items", fx.MemberKey);
            Assert.Equal(HttpStatusCode.OK, items.Status);
            var item = Assert.Single(items.Body.GetProperty("items").EnumerateArray());
            Assert.Equal(seed.QueueItemId, item.GetProperty("id").GetGuid());
            Assert.Equal(("train", 3), (item.GetProperty("job").GetProperty("name").GetString(), item.GetProperty("job").GetProperty("version").GetInt32()));
            Assert.Equal(0.2, item.GetProperty("config").GetProperty("lr").GetDouble());
            Assert.Equal(0, item.GetProperty("exitCode").GetInt32());

            Assert.Equal(HttpStatusCode.OK, (await fx.GetAsync("/v1/entities/acme/projects", fx.MemberKey)).Status);
        }

        var named = statements.SelectMany(s => OtherSchemaObject().Matches(s).Select(m => m.Value)).ToHashSet();
        Assert.Equal(Views.Order(), named.Order());
    }

    [Fact]
    public void Should_name_no_table_of_another_service_in_its_source()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Automations.sln"))) root = root.Parent!;
        var offending = Directory.EnumerateFiles(Path.Combine(root.FullName, "services", "Automations.Api"), "*.cs", SearchOption.AllDirectories)
            .Where(path => !path.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .SelectMany(path => File.ReadLines(path)
                .Where(line => !line.TrimStart().StartsWith("//", StringComparison.Ordinal))
                .SelectMany(line => OtherSchemaObject().Matches(line).Select(m => m.Value))
                .Where(name => !Views.Contains(name))
                .Select(name => $"{Path.GetFileName(path)}: {name}"))
            .ToList();
        Assert.Empty(offending);
    }

    /// <summary>Every statement Npgsql runs against <paramref name="database"/> while the result is not disposed.</summary>
    private static ActivityListener Capture(string database, ConcurrentQueue<string> statements)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == "Npgsql",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllData,
            ActivityStopped = activity =>
            {
                if (activity.GetTagItem("db.namespace") as string == database && activity.GetTagItem("db.query.text") is string sql)
                    statements.Enqueue(sql);
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }

    private sealed record Seed(string Project, Guid AutomationId, Guid OldRunId, Guid NewRunId, Guid WebhookId, Guid DeliveryId, Guid QueueId, Guid QueueItemId);

    /// <summary>What Rules, the WebhookSender and the LaunchEnqueuer would have written, straight into their tables.</summary>
    private async Task<Seed> SeedAsync()
    {
        var s = new Seed("p-" + Guid.NewGuid().ToString("N")[..8], Guid.NewGuid(), Guid.CreateVersion7(), Guid.CreateVersion7(), Guid.NewGuid(),
            Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        await using var c = await fx.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            """
            insert into control.webhooks (id, entity_id, name, url) values (@WebhookId, @acme, 'hook', 'https://hooks.example.com/x');
            insert into control.launch_queues (id, entity_id, name) values (@QueueId, @acme, 'gpu-' || @Project);
            insert into rules.runs (id, automation_id, automation_name, entity, project, event_id, producer_event_id, event_type, event,
                                    action_type, webhook_id, command_id, payload, status, created_at)
            select id, @AutomationId, 'dispatch', 'acme', @Project, gen_random_uuid(), 'e-' || n, 'CREATE_ARTIFACT', '{"n":1}', 'webhook',
                   @WebhookId, gen_random_uuid(), '{"ref":"v1"}', 'Finished', now() - make_interval(mins => n)
            from (values (@OldRunId, 2), (@NewRunId, 1)) r(id, n);
            insert into delivery.deliveries (id, command_id, run_id, event_id, automation_id, entity, project, webhook_id, payload, status,
                                             attempts, max_attempts, occurred_at)
            values (@DeliveryId, gen_random_uuid(), @NewRunId, gen_random_uuid(), @AutomationId, 'acme', @Project, @WebhookId, '{"ref":"v1"}',
                    'failed', 2, 2, now());
            insert into delivery.attempts (delivery_id, number, started_at, duration_ms, status_code, response_headers, response_body, response_masked)
            values (@DeliveryId, 1, now(), 12.5, 500, '{"x":"y"}', 'before masking: s3cr3t', false),
                   (@DeliveryId, 2, now(), 10.0, 500, '{"x":"y"}', 'masked: ********', true);
            insert into launch.queue_items (id, command_id, run_id, event_id, automation_id, entity_id, entity, project, queue_id, job_id,
                                            job_name, job_version, command, args, run_config, event, state, exit_code, ended_at)
            values (@QueueItemId, gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), @acme, 'acme', @Project,
                    @QueueId, gen_random_uuid(), 'train', 3, 'python', '["train.py"]', '{"lr":0.2}', '{}', 'finished', 0, now());
            """, new { s.WebhookId, s.QueueId, s.Project, s.AutomationId, s.OldRunId, s.NewRunId, s.DeliveryId, s.QueueItemId, acme = fx.AcmeId });
        return s;
    }
}
