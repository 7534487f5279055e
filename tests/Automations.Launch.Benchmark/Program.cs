using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Automations.Core.Security;
using Automations.Persistence.Control;
using Automations.Testing;
using Dapper;

// Launch agent API throughput: N queued items, K agents (HTTP clients) claiming and finishing as fast as they can.
// Then the long-poll wake-up: an idle agent waits on claim, an item is queued, how long until the claim answers.
// Run: eval "$(deploy/local/infra.sh --print-env)"; dotnet run -c Release --project tests/Automations.Launch.Benchmark -- [items] [agents]
var items = args.Length > 0 ? int.Parse(args[0]) : 2000;
var agents = args.Length > 1 ? int.Parse(args[1]) : 4;

var env = new TestEnvironment();
await env.InitializeAsync();
try
{
    var acme = await Bootstrap.CreateEntityWithAdminAsync(env.DataSource, "acme", "admin");
    var key = await Bootstrap.CreateServiceKeyAsync(env.DataSource, acme.EntityId, "agent", [ApiKeys.Scopes.QueuesAgent]);
    var queue = Guid.CreateVersion7();
    var job = Guid.CreateVersion7();
    await using (var c = await env.DataSource.OpenConnectionAsync())
    {
        await c.ExecuteAsync("insert into control.launch_queues (id, entity_id, name) values (@queue, @e, 'bench')", new { queue, e = acme.EntityId });
        await c.ExecuteAsync(
            """
            insert into launch.queue_items (id, command_id, run_id, event_id, automation_id, entity_id, entity, project, queue_id, job_id, job_version,
                command, args, run_config, event, state)
            select gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), @e, 'acme', 'mnist', @queue, @job, 1,
                '/bin/true', '[]', '{"lr":0.1}', '{}', 'queued'
            from generate_series(1, @items)
            """, new { e = acme.EntityId, queue, job, items });
    }

    var config = env.ServiceConfiguration();
    config["Logging:LogLevel:Default"] = "Warning";
    await using var host = await ServiceHost.StartAsync(Automations.LaunchEnqueuer.Program.Build, config);

    async Task<JsonElement?> ClaimAsync(HttpClient http, int wait)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/agent/queues/{queue}/claim?wait={wait}");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await http.SendAsync(request);
        return response.StatusCode == HttpStatusCode.NoContent ? null : await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    async Task FinishAsync(HttpClient http, JsonElement item)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/agent/items/{item.GetProperty("id").GetGuid()}/finished")
        {
            Content = JsonContent.Create(new { leaseId = item.GetProperty("leaseId").GetGuid(), exitCode = 0 }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        using var response = await http.SendAsync(request);
        response.EnsureSuccessStatusCode();
    }

    // Warm-up: JIT, pools (a fresh process measures its own compilation otherwise).
    using (var warm = new HttpClient { BaseAddress = host.BaseAddress })
        for (var i = 0; i < Math.Min(200, items / 10); i++)
            if (await ClaimAsync(warm, 0) is { } it) await FinishAsync(warm, it);

    var latencies = new List<double>();
    var sw = Stopwatch.StartNew();
    var done = await Task.WhenAll(Enumerable.Range(0, agents).Select(async _ =>
    {
        using var http = new HttpClient { BaseAddress = host.BaseAddress };
        var mine = new List<double>();
        while (true)
        {
            var t = Stopwatch.GetTimestamp();
            if (await ClaimAsync(http, 0) is not { } item) return mine;
            mine.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            await FinishAsync(http, item);
        }
    }));
    sw.Stop();
    foreach (var d in done) latencies.AddRange(d);
    latencies.Sort();
    double P(double q) => latencies.Count == 0 ? 0 : latencies[Math.Min(latencies.Count - 1, (int)(q * latencies.Count))];
    Console.WriteLine($"{latencies.Count} items claimed+finished by {agents} agents in {sw.Elapsed.TotalSeconds:F2} s: {latencies.Count / sw.Elapsed.TotalSeconds:F0} items/s; claim p50 {P(0.5):F1} ms, p99 {P(0.99):F1} ms");

    // Long-poll wake-up: a claim waiting on an empty queue, then an item queued with NOTIFY (as the consumer does).
    var wakes = new List<double>();
    using (var http = new HttpClient { BaseAddress = host.BaseAddress })
        for (var i = 0; i < 20; i++)
        {
            var claim = ClaimAsync(http, 10);
            await Task.Delay(200);
            var t = Stopwatch.GetTimestamp();
            await using (var c = await env.DataSource.OpenConnectionAsync())
                await c.ExecuteAsync(
                    """
                    insert into launch.queue_items (id, command_id, run_id, event_id, automation_id, entity_id, entity, project, queue_id, job_id, job_version,
                        command, args, run_config, event, state)
                    values (gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), @e, 'acme', 'mnist', @queue, @job, 1,
                        '/bin/true', '[]', '{}', '{}', 'queued');
                    select pg_notify('launch_queue_items', @queue::text);
                    """, new { e = acme.EntityId, queue, job });
            var item = await claim;
            wakes.Add(Stopwatch.GetElapsedTime(t).TotalMilliseconds);
            if (item is { } it) await FinishAsync(http, it);
        }
    wakes.Sort();
    Console.WriteLine($"long-poll wake-up after an item is queued: median {wakes[wakes.Count / 2]:F1} ms, max {wakes[^1]:F1} ms (poll fallback 1000 ms)");
}
finally
{
    await env.DisposeAsync();
}
