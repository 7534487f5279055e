using Automations.Contracts;
using Automations.Rules.Runs;
using Automations.Testing;
using Dapper;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

public class Following_a_run_to_its_outcome(RulesFixture fx) : IClassFixture<RulesFixture>
{
    private async Task<RunRow> WebhookRunAsync()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("a"));
        var e = Event(project);
        await fx.HandleAsync(e);
        return (await fx.RunsOfEventAsync(e.EventId)).Single();
    }

    private async Task<RunRow> LaunchRunAsync()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateLaunchAutomationAsync(project, "retrain", 1, null, null);
        var e = Event(project);
        await fx.HandleAsync(e);
        return (await fx.RunsOfEventAsync(e.EventId)).Single();
    }

    private async Task<RunRow> WaitForStatusAsync(Guid runId, string status)
    {
        await Eventually.TrueAsync(async () => (await fx.RunAsync(runId)).Status == status, $"run {runId} is {status}");
        return await fx.RunAsync(runId);
    }

    [Fact]
    public async Task Should_finish_when_the_webhook_was_delivered()
    {
        var run = await WebhookRunAsync();
        await fx.PublishAsync(new WebhookDeliveryCompleted(run.CommandId, run.Id, Guid.NewGuid(), 204, 2, DateTimeOffset.UtcNow));
        var done = await WaitForStatusAsync(run.Id, "Finished");
        Assert.Equal("delivered: HTTP 204 after 2 attempt(s)", done.Reason);
    }

    [Fact]
    public async Task Should_finish_every_run_of_a_batch_of_successes_and_leave_final_runs_alone()
    {
        var a = await WebhookRunAsync();
        var b = await WebhookRunAsync();
        var failed = await WebhookRunAsync();
        await fx.PublishAsync(new WebhookDeliveryFailed(failed.CommandId, failed.Id, Guid.NewGuid(), "HTTP 500 after 8 attempts", 500, 8, DateTimeOffset.UtcNow));
        await WaitForStatusAsync(failed.Id, "Failed");

        await fx.PublishAsync(new WebhookDeliveriesCompleted([
            new WebhookDeliveryCompleted(a.CommandId, a.Id, Guid.NewGuid(), 204, 1, DateTimeOffset.UtcNow),
            new WebhookDeliveryCompleted(b.CommandId, b.Id, Guid.NewGuid(), 200, 3, DateTimeOffset.UtcNow),
            new WebhookDeliveryCompleted(failed.CommandId, failed.Id, Guid.NewGuid(), 200, 9, DateTimeOffset.UtcNow),
            new WebhookDeliveryCompleted(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), 200, 1, DateTimeOffset.UtcNow), // unknown run
        ]));
        Assert.Equal("delivered: HTTP 204 after 1 attempt(s)", (await WaitForStatusAsync(a.Id, "Finished")).Reason);
        Assert.Equal("delivered: HTTP 200 after 3 attempt(s)", (await WaitForStatusAsync(b.Id, "Finished")).Reason);
        Assert.Equal(("Failed", "HTTP 500 after 8 attempts"), ((await fx.RunAsync(failed.Id)).Status, (await fx.RunAsync(failed.Id)).Reason));

        // The same success again as the single message (the relay's form after a lost batch confirm): nothing changes.
        var again = Guid.NewGuid();
        await fx.PublishAsync(new WebhookDeliveryCompleted(a.CommandId, a.Id, Guid.NewGuid(), 500, 7, DateTimeOffset.UtcNow), again);
        await Eventually.TrueAsync(() => Task.FromResult(fx.Consumed.Count(again) == 1), "the repeated outcome was consumed");
        Assert.Equal("delivered: HTTP 204 after 1 attempt(s)", (await fx.RunAsync(a.Id)).Reason);
    }

    [Fact]
    public async Task Should_fail_with_the_reason_when_the_delivery_failed_and_stay_failed()
    {
        var run = await WebhookRunAsync();
        await fx.PublishAsync(new WebhookDeliveryFailed(run.CommandId, run.Id, Guid.NewGuid(), "HTTP 500 after 8 attempts", 500, 8, DateTimeOffset.UtcNow));
        var failed = await WaitForStatusAsync(run.Id, "Failed");
        Assert.Equal("HTTP 500 after 8 attempts", failed.Reason);

        // A late, contradicting outcome does not reopen a final run.
        var late = Guid.NewGuid();
        await fx.PublishAsync(new WebhookDeliveryCompleted(run.CommandId, run.Id, Guid.NewGuid(), 200, 9, DateTimeOffset.UtcNow), late);
        await Eventually.TrueAsync(() => Task.FromResult(fx.Consumed.Count(late) == 1), "the late outcome was consumed");
        Assert.Equal(("Failed", "HTTP 500 after 8 attempts"), ((await fx.RunAsync(run.Id)).Status, (await fx.RunAsync(run.Id)).Reason));
    }

    [Fact]
    public async Task Should_go_through_enqueued_to_finished_for_a_launch_job()
    {
        var run = await LaunchRunAsync();
        var item = Guid.NewGuid();
        await fx.PublishAsync(new LaunchJobEnqueued(run.CommandId, run.Id, item, fx.AcmeQueueId, DateTimeOffset.UtcNow));
        Assert.Equal($"queued as item {item}", (await WaitForStatusAsync(run.Id, "Enqueued")).Reason);
        await fx.PublishAsync(new LaunchJobFinished(run.CommandId, run.Id, item, 0, DateTimeOffset.UtcNow));
        Assert.Equal("job exited with code 0", (await WaitForStatusAsync(run.Id, "Finished")).Reason);
    }

    [Theory]
    [InlineData("exit code", "job exited with code 3")]
    [InlineData("failure", "no agent claimed the item before it expired")]
    public async Task Should_fail_a_launch_run_with_the_reason(string how, string reason)
    {
        var run = await LaunchRunAsync();
        if (how == "exit code")
            await fx.PublishAsync(new LaunchJobFinished(run.CommandId, run.Id, Guid.NewGuid(), 3, DateTimeOffset.UtcNow));
        else
            await fx.PublishAsync(new LaunchJobFailed(run.CommandId, run.Id, null, reason, DateTimeOffset.UtcNow));
        Assert.Equal(reason, (await WaitForStatusAsync(run.Id, "Failed")).Reason);
    }

    [Fact]
    public async Task Should_make_a_runs_id_from_its_partition_key_and_look_in_that_partition_only()
    {
        var run = await WebhookRunAsync();
        await using var c = await fx.DataSource.OpenConnectionAsync();
        var receivedAt = await c.QuerySingleAsync<DateTime>("select received_at from rules.runs where id = @Id", new { run.Id });
        var (from, to) = AutomationRun.PartitionOf([run.Id]);
        Assert.InRange(new DateTimeOffset(receivedAt, TimeSpan.Zero), from, to);

        // With the range, PostgreSQL plans the update for the partition that holds the run, not for every partition.
        var plan = string.Join("\n", await c.QueryAsync<string>("explain " + RunOutcomeConsumer.FinishInPartition + RunOutcomeConsumer.FinishReturning,
            new { runIds = new[] { run.Id }, reasons = new[] { "x" }, from, to }));
        var partitions = await c.QueryAsync<string>("select inhrelid::regclass::text from pg_inherits where inhparent = 'rules.runs'::regclass");
        var scanned = partitions.Where(p => plan.Contains($"Update on {p.Split('.')[1]} ", StringComparison.Ordinal)).ToList();
        Assert.True(scanned.Count == 1, $"the update would touch {scanned.Count} partitions:\n{plan}");
    }

    [Fact]
    public async Task Should_move_a_run_whose_id_does_not_carry_its_partition_key()
    {
        // Runs made before ids carried their partition key (an hour apart here): outcomes find them across partitions.
        var batched = await WebhookRunAsync();
        var single = await WebhookRunAsync();
        var launch = await LaunchRunAsync();
        var ids = new Dictionary<Guid, Guid>();
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            foreach (var run in new[] { batched, single, launch })
            {
                ids[run.Id] = Guid.CreateVersion7(DateTimeOffset.UtcNow.AddHours(1));
                await c.ExecuteAsync("update rules.runs set id = @to where id = @from", new { from = run.Id, to = ids[run.Id] });
            }

        await fx.PublishAsync(new WebhookDeliveriesCompleted([
            new WebhookDeliveryCompleted(batched.CommandId, ids[batched.Id], Guid.NewGuid(), 204, 1, DateTimeOffset.UtcNow),
        ]));
        await fx.PublishAsync(new WebhookDeliveryFailed(single.CommandId, ids[single.Id], Guid.NewGuid(), "HTTP 500 after 8 attempts", 500, 8, DateTimeOffset.UtcNow));
        await fx.PublishAsync(new LaunchJobEnqueued(launch.CommandId, ids[launch.Id], Guid.NewGuid(), fx.AcmeQueueId, DateTimeOffset.UtcNow));

        Assert.Equal("delivered: HTTP 204 after 1 attempt(s)", (await WaitForStatusAsync(ids[batched.Id], "Finished")).Reason);
        Assert.Equal("HTTP 500 after 8 attempts", (await WaitForStatusAsync(ids[single.Id], "Failed")).Reason);
        await WaitForStatusAsync(ids[launch.Id], "Enqueued");
    }
}
