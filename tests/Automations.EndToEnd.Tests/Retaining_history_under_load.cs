using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Automations.Testing;
using Dapper;
using Xunit.Abstractions;

namespace Automations.EndToEnd.Tests;

/// <summary>
/// The short form of the soak (issue 21): every service with retention of seconds, a steady few events a second for a
/// minute and a half, and one webhook whose receiver fails a delivery for longer than the history. Old partitions and
/// rows go from every partitioned table, the tables stay the same size, and the retrying delivery stays until it
/// finishes, delivered once.
/// </summary>
public class Retaining_history_under_load(Retaining_history_under_load.Fixture fx, ITestOutputHelper output) : IClassFixture<Retaining_history_under_load.Fixture>
{
    private static readonly TimeSpan History = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan CheckEvery = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan EventEvery = TimeSpan.FromMilliseconds(200);
    private static readonly TimeSpan LoadFor = TimeSpan.FromSeconds(90);

    /// <summary>Every partitioned table with its partition key; all four are kept for History.</summary>
    private static readonly (string Table, string Column)[] Tables =
        [("ingestion.events", "received_at"), ("rules.runs", "received_at"), ("delivery.deliveries", "command_at"), ("delivery.attempts", "command_at")];

    public sealed class Fixture : PipelineFixture
    {
        public override Dictionary<string, string?> ServiceConfiguration()
        {
            var config = base.ServiceConfiguration();
            config["Retention:Interval"] = "00:00:02";
            config["Retention:History"] = "00:00:10";
            config["Retention:DedupeWindow"] = "00:00:10";
            // Longer than the sender's retry horizon below (80 s), as the default week is longer than its 28 hours.
            config["Retention:Inbox"] = "00:02:00";
            config["Retention:CheckEvery"] = "00:00:01";
            config["Webhooks:RetrySchedule"] = string.Join(',', Enumerable.Repeat("00:00:02", 40));
            config["Webhooks:SchedulerInterval"] = "00:00:00.200";
            return config;
        }
    }

    private sealed record Sample(string Table, long Partitions, long Rows);

    [Fact]
    public async Task Should_drop_old_rows_from_every_partitioned_table_and_keep_a_delivery_retrying_past_the_history()
    {
        var recovered = false;
        var flakySuccesses = 0;
        fx.Receiver.Respond("/soak/flaky", (ctx, _) =>
        {
            if (Volatile.Read(ref recovered)) Interlocked.Increment(ref flakySuccesses);
            ctx.Response.StatusCode = Volatile.Read(ref recovered) ? 200 : 503;
            return Task.CompletedTask;
        });
        using var api = fx.ApiClient();
        var (steadyAutomation, _) = await AutomationAsync(api, "steady", "/soak/steady");
        var (stuckAutomation, stuckWebhook) = await AutomationAsync(api, "stuck", "/soak/flaky");
        await fx.RulesSawChangeAsync(steadyAutomation);
        await fx.RulesSawChangeAsync(stuckAutomation);

        using var stop = new CancellationTokenSource();
        var started = DateTimeOffset.UtcNow;
        var sent = 0;
        var load = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(EventEvery);
            try
            {
                while (await timer.WaitForNextTickAsync(stop.Token))
                {
                    await SendEventAsync("steady");
                    Interlocked.Increment(ref sent);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested) { }
        });

        // One delivery retrying: its partition passes the history while it is pending, and stays with its attempts while
        // the partitions made with it go.
        await SendEventAsync("stuck");
        Delivery? stuck = null;
        await Eventually.TrueAsync(async () => (stuck = await DeliveryAsync(stuckWebhook)) is not null, "the stuck event's delivery exists", TimeSpan.FromSeconds(60));
        Assert.Equal("pending", stuck!.Status);
        await Eventually.TrueAsync(async () => await ScalarAsync<bool>(
                "select now() - @at::timestamptz > @window", new { at = stuck.CommandAt, window = History + Interval + 3 * CheckEvery }),
            "the stuck delivery's partition is past the history by three checks", TimeSpan.FromSeconds(60));
        var held = await DeliveryAsync(stuckWebhook);
        Assert.True(held is { Status: "pending" }, $"the retrying delivery is kept while pending: {held}");
        Assert.Equal(held.Attempts, await ScalarAsync<long>("select count(*) from delivery.attempts where delivery_id = @Id", held));
        Assert.True(held.Attempts >= 2, $"it has been attempted more than once ({held.Attempts})");
        // Of the partitions up to the stuck delivery's, only its own is left in each delivery table.
        Assert.Equal([held.Partition], await PartitionsEndingByAsync("delivery.deliveries", held.CommandAt));
        Assert.Single(await PartitionsEndingByAsync("delivery.attempts", held.CommandAt));
        // Its run waits for the outcome: still Pending, its partition held past the history with it.
        var runPartition = await ScalarAsync<string?>("select tableoid::regclass::text from rules.runs where automation_id = @stuckAutomation", new { stuckAutomation });
        Assert.True(runPartition is not null, "the retrying delivery's run is kept while it waits for the outcome");
        Assert.Equal("Pending", await ScalarAsync<string>("select status from rules.runs where automation_id = @stuckAutomation", new { stuckAutomation }));

        // Once finished it goes at the next check; its partition is held (ACCESS SHARE against the drop's ACCESS EXCLUSIVE,
        // which gives up after 500 ms and tries again at the next check) until the test has seen it succeeded.
        Delivery done;
        await using (var hold = await fx.DataSource.OpenConnectionAsync())
        await using (var tx = await hold.BeginTransactionAsync())
        {
            await hold.ExecuteAsync($"lock table {held.Partition}, {runPartition} in access share mode", transaction: tx);
            Volatile.Write(ref recovered, true);
            await Eventually.TrueAsync(async () => (await DeliveryAsync(stuckWebhook))?.Status == "succeeded", "the stuck delivery succeeds once its receiver recovers",
                TimeSpan.FromSeconds(60));
            done = (await DeliveryAsync(stuckWebhook))!;
            Assert.Equal(done.Attempts, await ScalarAsync<long>("select count(*) from delivery.attempts where delivery_id = @Id", done));
            await Eventually.TrueAsync(async () => await ScalarAsync<string?>("select status from rules.runs where automation_id = @stuckAutomation", new { stuckAutomation }) == "Finished",
                "the run finishes with its delivery's outcome", TimeSpan.FromSeconds(30));
        }
        Assert.Equal(1, Volatile.Read(ref flakySuccesses));
        Assert.Equal(fx.Receiver.On("/soak/flaky").Count, done.Attempts);

        // The tables' size under steady load: sampled at the midpoint and at the end.
        await Eventually.TrueAsync(() => Task.FromResult(DateTimeOffset.UtcNow - started >= LoadFor / 2), "the load's midpoint", LoadFor);
        var middle = await SampleAsync();
        await Eventually.TrueAsync(() => Task.FromResult(DateTimeOffset.UtcNow - started >= LoadFor), "the load's end", LoadFor);
        // Nothing older than the history, its last partition and two checks is left in any table (the default partition included).
        await Eventually.TrueAsync(async () =>
        {
            foreach (var (table, column) in Tables)
                if (await ScalarAsync<long>($"select count(*) from {table} where {column} < now() - @window", new { window = History + Interval + 2 * CheckEvery }) > 0
                    || (await PartitionsEndingByAsync(table, null)).Count > 0)
                    return false;
            return true;
        }, "every partitioned table holds only the history", TimeSpan.FromSeconds(30));
        var end = await SampleAsync();
        await stop.CancelAsync();
        await load;

        foreach (var (m, e) in middle.Zip(end))
        {
            output.WriteLine($"{m.Table}: middle {m.Partitions} partitions, {m.Rows} rows; end {e.Partitions} partitions, {e.Rows} rows; {sent} events sent");
            // A sample may fall between one check's creation of a partition and its drop of another.
            Assert.True(e.Partitions <= m.Partitions + 1, $"{e.Table}: {e.Partitions} partitions at the end, {m.Partitions} at the midpoint");
            // The rows kept span from History to History + Interval + CheckEvery (10 to 13 s) of the same steady rate, so two
            // samples differ by at most 13/10; 1.5 and ten rows leave room for the pipeline's jitter on a shared machine.
            Assert.True(e.Rows <= m.Rows * 1.5 + 10, $"{e.Table}: {e.Rows} rows at the end, {m.Rows} at the midpoint");
            Assert.True(e.Rows < sent / 2, $"{e.Table}: {e.Rows} rows kept of {sent} events");
        }

        // Every steady event was delivered exactly once; and the stuck delivery, now finished, goes too.
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On("/soak/steady").Count >= sent), $"the {sent} steady events are delivered",
            TimeSpan.FromSeconds(60));
        var steady = fx.Receiver.On("/soak/steady");
        Assert.Equal(sent, steady.Count);
        Assert.Equal(sent, steady.Select(r => r.Header("webhook-id")).Distinct().Count());
        await Eventually.TrueAsync(async () => await DeliveryAsync(stuckWebhook) is null, "the finished delivery goes with its partition", TimeSpan.FromSeconds(30));
    }

    /// <returns>The automation's id and its webhook's.</returns>
    private async Task<(Guid Automation, Guid Webhook)> AutomationAsync(HttpClient api, string collection, string path)
    {
        using var webhook = await api.PostAsJsonAsync("/v1/entities/acme/webhooks", new { name = $"soak-{collection}", url = fx.Receiver.Url(path) });
        Assert.True(webhook.IsSuccessStatusCode, await webhook.Content.ReadAsStringAsync());
        using var automation = await api.PostAsJsonAsync("/v1/entities/acme/projects/mnist/automations", new
        {
            name = $"soak {collection}",
            @event = new { type = "CREATE_ARTIFACT", collection },
            action = new { type = "webhook", webhook = $"soak-{collection}", payload = """{"version":"${artifact_version_string}"}""" },
        });
        Assert.True(automation.IsSuccessStatusCode, await automation.Content.ReadAsStringAsync());
        return ((await automation.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid(),
            (await webhook.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid());
    }

    private async Task<string> SendEventAsync(string collection)
    {
        var eventId = Guid.NewGuid().ToString();
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events")
        {
            Content = JsonContent.Create(new
            {
                eventId, eventType = "CREATE_ARTIFACT", entity = "acme", project = "mnist", collection,
                versionId = "QXJ0aWZhY3Q6NTE3ODg5ODg3", versionIndex = 1, author = "soak", occurredAt = DateTimeOffset.UtcNow,
            }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fx.AdminKey);
        using var response = await fx.Ingestion.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        return eventId;
    }

    private sealed record Delivery(Guid Id, string Status, int Attempts, DateTime CommandAt, string Partition);

    /// <summary>The one delivery to <paramref name="webhookId"/>, or null.</summary>
    private async Task<Delivery?> DeliveryAsync(Guid webhookId)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return await c.QuerySingleOrDefaultAsync<Delivery>(
            """
            select d.id as Id, d.status as Status, d.attempts as Attempts, d.command_at as CommandAt, d.tableoid::regclass::text as Partition
            from delivery.deliveries d where d.webhook_id = @webhookId
            """, new { webhookId });
    }

    private async Task<T> ScalarAsync<T>(string sql, object? args = null)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return (await c.ExecuteScalarAsync<T>(sql, args))!;
    }

    /// <summary>
    /// The partitions of <paramref name="table"/> (pg_inherits, bounds as PartitionMaintenance reads them) that end by
    /// <paramref name="time"/>'s partition end, or (null) that end History and two checks ago or earlier.
    /// </summary>
    private async Task<List<string>> PartitionsEndingByAsync(string table, DateTime? time)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return (await c.QueryAsync<string>(
            """
            select c.oid::regclass::text
            from pg_inherits i join pg_class c on c.oid = i.inhrelid
            cross join lateral pg_get_expr(c.relpartbound, c.oid) as b
            where i.inhparent = @table::regclass and b <> 'DEFAULT'
              and (regexp_match(b, $re$TO \('([^']+)'\)$re$))[1]::timestamptz
                  <= coalesce(date_bin(@interval, @time::timestamptz, '2000-01-01 00:00:00+00') + @interval, now() - @window)
            order by 1
            """, new { table, time, interval = Interval, window = History + 2 * CheckEvery })).AsList();
    }

    private async Task<List<Sample>> SampleAsync()
    {
        var samples = new List<Sample>();
        foreach (var (table, _) in Tables)
            samples.Add(new Sample(table, await ScalarAsync<long>("select count(*) from pg_inherits where inhparent = @table::regclass", new { table }),
                await ScalarAsync<long>($"select count(*) from {table}")));
        return samples;
    }
}
