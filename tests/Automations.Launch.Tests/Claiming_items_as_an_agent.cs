using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Automations.Contracts;
using Automations.LaunchEnqueuer.Agent;
using Automations.Testing;
using Dapper;
using Microsoft.Extensions.DependencyInjection;

namespace Automations.Launch.Tests;

[Collection(LaunchCollection.Name)]
public class Claiming_items_as_an_agent(LaunchFixture f)
{
    [Fact]
    public async Task Should_give_each_of_100_items_to_exactly_one_of_two_racing_agents()
    {
        var queue = await f.CreateQueueAsync();
        var job = await f.CreateJobAsync();
        var commands = Enumerable.Range(0, 100).Select(_ => LaunchFixture.Command(job, queue)).ToList();
        foreach (var command in commands) await f.PublishAsync(command);
        var ids = commands.Select(c => c.CommandId).ToHashSet();
        await f.Enqueued.WaitForAsync(d => ids.Contains(d.As<LaunchJobEnqueued>().CommandId), 100, TimeSpan.FromSeconds(60));

        var claimedBy = new ConcurrentDictionary<string, ConcurrentBag<Guid>>();
        async Task AgentAsync(string key)
        {
            using var client = new HttpClient { BaseAddress = f.Enqueuer.BaseAddress };
            var mine = claimedBy.GetOrAdd(key, _ => []);
            while (await f.ClaimItemAsync(key, queue, 0, client) is { } item)
            {
                mine.Add(item.GetProperty("id").GetGuid());
                using var done = await f.ReportAsync(key, item, "finished", new { exitCode = 0 }, client);
                Assert.Equal(HttpStatusCode.OK, done.StatusCode);
            }
        }
        await Task.WhenAll(AgentAsync(f.AgentKey), AgentAsync(f.SecondAgentKey));

        var all = claimedBy.Values.SelectMany(b => b).ToList();
        Assert.Equal(100, all.Count);
        Assert.Equal(100, all.Distinct().Count());
        await using var c = await f.DataSource.OpenConnectionAsync();
        var states = (await c.QueryAsync<(string State, int Claims, long N)>(
            "select state, claims, count(*) from launch.queue_items where queue_id = @queue group by state, claims", new { queue })).ToList();
        Assert.Equal([("finished", 1, 100L)], states);
        await f.Finished.WaitForAsync(d => all.Contains(d.As<LaunchJobFinished>().QueueItemId), 100, TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task Should_hand_the_item_of_an_agent_that_stopped_heartbeating_to_another_agent()
    {
        var queue = await f.CreateQueueAsync();
        var enqueued = await f.EnqueueAsync(LaunchFixture.Command(await f.CreateJobAsync(), queue));

        var first = (await f.ClaimItemAsync(f.AgentKey, queue))!.Value;
        Assert.Equal(enqueued.QueueItemId, first.GetProperty("id").GetGuid());
        (await f.ReportAsync(f.AgentKey, first, "running")).EnsureSuccessStatusCode();
        // The first agent is killed here: no heartbeat, no report. Its lease expires and the sweeper requeues the item.
        var second = await f.ClaimItemAsync(f.SecondAgentKey, queue, wait: 30);

        Assert.NotNull(second);
        Assert.Equal(enqueued.QueueItemId, second.Value.GetProperty("id").GetGuid());
        Assert.Equal(2, second.Value.GetProperty("claims").GetInt32());
        (await f.ReportAsync(f.SecondAgentKey, second.Value, "running")).EnsureSuccessStatusCode();
        (await f.ReportAsync(f.SecondAgentKey, second.Value, "finished", new { exitCode = 0 })).EnsureSuccessStatusCode();

        // The first agent comes back to life: its lease no longer holds the item.
        using var late = await f.ReportAsync(f.AgentKey, first, "finished", new { exitCode = 1 });
        Assert.Equal(HttpStatusCode.Conflict, late.StatusCode);
        Assert.Equal("application/problem+json", late.Content.Headers.ContentType?.MediaType);
        var item = await f.ItemAsync(enqueued.QueueItemId);
        Assert.Equal("finished", item!.State);
        Assert.Equal(0, item.ExitCode);
        await f.Finished.WaitForAsync(d => d.As<LaunchJobFinished>().QueueItemId == enqueued.QueueItemId);
    }

    [Fact]
    public async Task Should_fail_the_run_when_its_lease_expired_the_maximum_number_of_times()
    {
        var queue = await f.CreateQueueAsync();
        var enqueued = await f.EnqueueAsync(LaunchFixture.Command(await f.CreateJobAsync(), queue));

        for (var claim = 1; claim <= LaunchFixture.MaxClaims; claim++)
        {
            var item = await f.ClaimItemAsync(f.AgentKey, queue, wait: 30);
            Assert.NotNull(item);
            Assert.Equal(claim, item.Value.GetProperty("claims").GetInt32());
        }

        var failed = (await f.Failed.WaitForAsync(d => d.As<LaunchJobFailed>().QueueItemId == enqueued.QueueItemId))[0].As<LaunchJobFailed>();
        Assert.Contains("lease expired", failed.Reason, StringComparison.Ordinal);
        Assert.Equal("failed", (await f.ItemAsync(enqueued.QueueItemId))!.State);
        Assert.Null(await f.ClaimItemAsync(f.AgentKey, queue));
    }

    [Fact]
    public async Task Should_put_a_released_item_back_in_the_queue_for_the_next_claim()
    {
        var queue = await f.CreateQueueAsync();
        var enqueued = await f.EnqueueAsync(LaunchFixture.Command(await f.CreateJobAsync(), queue));
        var first = (await f.ClaimItemAsync(f.AgentKey, queue))!.Value;

        (await f.ReportAsync(f.AgentKey, first, "release")).EnsureSuccessStatusCode();
        var again = await f.ClaimItemAsync(f.SecondAgentKey, queue);

        Assert.NotNull(again);
        Assert.Equal(enqueued.QueueItemId, again.Value.GetProperty("id").GetGuid());
        Assert.NotEqual(first.GetProperty("leaseId").GetGuid(), again.Value.GetProperty("leaseId").GetGuid());
        using var stale = await f.ReportAsync(f.AgentKey, first, "heartbeat");
        Assert.Equal(HttpStatusCode.Conflict, stale.StatusCode);
    }

    [Fact]
    public async Task Should_answer_a_waiting_claim_with_an_item_queued_while_it_waits()
    {
        // A replica whose claims wait ten minutes without looking at the table again (the poll is as long): within the
        // test's minute only the notification of the new item can answer the claim.
        var config = f.ServiceConfiguration();
        config["Launch:PollIntervalMilliseconds"] = "600000";
        config["Launch:MaxWaitSeconds"] = "600";
        await using var replica = await ServiceHost.StartAsync(LaunchEnqueuer.Program.Build, config);
        var signals = replica.Services.GetRequiredService<QueueSignals>();
        using var client = new HttpClient { BaseAddress = replica.BaseAddress, Timeout = TimeSpan.FromMinutes(11) };
        var queue = await f.CreateQueueAsync();
        var command = LaunchFixture.Command(await f.CreateJobAsync("/bin/echo", """["hello"]""", """{"x":1}"""), queue, """{"y":2}""");

        var claim = f.ClaimItemAsync(f.AgentKey, queue, wait: 600, client);
        await Eventually.TrueAsync(() => Task.FromResult(signals.Waiting(queue) == 1), "the claim found the queue empty and waits");
        await f.PublishAsync(command);
        var item = await claim.WaitAsync(TimeSpan.FromSeconds(60));

        Assert.NotNull(item);
        Assert.Equal(0, signals.Waiting(queue));
        Assert.Equal("/bin/echo", item.Value.GetProperty("command").GetString());
        Assert.Equal("hello", item.Value.GetProperty("args")[0].GetString());
        Assert.Equal(1, item.Value.GetProperty("config").GetProperty("x").GetInt32());
        Assert.Equal(2, item.Value.GetProperty("config").GetProperty("y").GetInt32());
        Assert.Equal("mnist-retrain", item.Value.GetProperty("targetProject").GetString());
        Assert.Equal(command.RunId, item.Value.GetProperty("runId").GetGuid());
    }

    [Fact]
    public async Task Should_answer_a_repeated_report_with_the_state_it_set_and_publish_nothing_again()
    {
        var queue = await f.CreateQueueAsync();
        var enqueued = await f.EnqueueAsync(LaunchFixture.Command(await f.CreateJobAsync(), queue));
        var item = (await f.ClaimItemAsync(f.AgentKey, queue))!.Value;

        using var first = await f.ReportAsync(f.AgentKey, item, "finished", new { exitCode = 4 });
        using var again = await f.ReportAsync(f.AgentKey, item, "finished", new { exitCode = 4 });

        Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        Assert.Equal("failed", (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("state").GetString());
        await f.Failed.WaitForAsync(d => d.As<LaunchJobFailed>().QueueItemId == enqueued.QueueItemId);
        await f.EverythingPublishedAsync(f.Failed);
        Assert.Single(f.Failed.Received, d => d.As<LaunchJobFailed>().QueueItemId == enqueued.QueueItemId);
        using var heartbeat = await f.ReportAsync(f.AgentKey, item, "heartbeat");
        Assert.Equal(HttpStatusCode.Conflict, heartbeat.StatusCode);
    }

    [Fact]
    public async Task Should_answer_no_content_when_the_queue_stays_empty()
    {
        var queue = await f.CreateQueueAsync();
        using var response = await f.ClaimAsync(f.AgentKey, queue, wait: 1);
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    [Fact]
    public async Task Should_refuse_keys_without_the_agent_scope_or_of_another_entity()
    {
        var queue = await f.CreateQueueAsync();
        var enqueued = await f.EnqueueAsync(LaunchFixture.Command(await f.CreateJobAsync(), queue));

        using (var none = await f.ClaimAsync(null, queue)) Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        using (var bad = await f.ClaimAsync("ak_not-a-key", queue)) Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
        using (var producer = await f.ClaimAsync(f.ProducerKey, queue)) Assert.Equal(HttpStatusCode.Forbidden, producer.StatusCode);
        using (var other = await f.ClaimAsync(f.OtherEntityAgentKey, queue))
        {
            Assert.Equal(HttpStatusCode.NotFound, other.StatusCode);
            Assert.Equal("application/problem+json", other.Content.Headers.ContentType?.MediaType);
        }
        var item = (await f.ClaimItemAsync(f.AgentKey, queue))!.Value;
        using (var otherReport = await f.ReportAsync(f.OtherEntityAgentKey, item, "finished", new { exitCode = 0 }))
            Assert.Equal(HttpStatusCode.NotFound, otherReport.StatusCode);
        using (var noLease = await f.SendAsync(f.AgentKey, $"/v1/agent/items/{enqueued.QueueItemId}/finished", new { exitCode = 0 }))
        {
            Assert.Equal(HttpStatusCode.BadRequest, noLease.StatusCode);
            var problem = await noLease.Content.ReadFromJsonAsync<JsonElement>();
            Assert.True(problem.GetProperty("errors").TryGetProperty("leaseId", out _));
        }
        Assert.Equal("claimed", (await f.ItemAsync(enqueued.QueueItemId))!.State);
    }
}
