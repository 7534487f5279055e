using System.Text.Json.Nodes;
using Automations.Contracts;
using Automations.Testing;

namespace Automations.Launch.Tests;

[Collection(LaunchCollection.Name)]
public class Enqueueing_a_launch_job(LaunchFixture f)
{
    [Fact]
    public async Task Should_queue_one_item_with_the_default_config_merged_with_the_overrides()
    {
        var queue = await f.CreateQueueAsync();
        var job = await f.CreateJobAsync("/usr/bin/python3", """["train.py","--fast"]""",
            """{"lr":0.1,"model":{"name":"cnn","layers":3},"tags":["a"],"keep":true}""");
        var command = LaunchFixture.Command(job, queue, """{"model":{"layers":5},"epochs":10,"tags":["b"]}""");

        var enqueued = await f.EnqueueAsync(command);

        Assert.Equal(command.RunId, enqueued.RunId);
        Assert.Equal(queue, enqueued.QueueId);
        var item = await f.ItemAsync(enqueued.QueueItemId);
        Assert.NotNull(item);
        Assert.Equal("queued", item.State);
        Assert.True(JsonNode.DeepEquals(
            JsonNode.Parse("""{"lr":0.1,"model":{"name":"cnn","layers":5},"tags":["b"],"keep":true,"epochs":10}"""),
            JsonNode.Parse(item.RunConfig!)), item.RunConfig);
        Assert.Equal("/usr/bin/python3", item.Command);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""["train.py","--fast"]"""), JsonNode.Parse(item.Args!)));
        Assert.Equal("mnist-retrain", item.TargetProject);
        Assert.Equal("production", JsonNode.Parse(item.Event)!["alias"]!.GetValue<string>());
    }

    [Fact]
    public async Task Should_keep_one_item_when_the_same_command_arrives_twice()
    {
        var queue = await f.CreateQueueAsync();
        var job = await f.CreateJobAsync();
        var command = LaunchFixture.Command(job, queue);
        var messageId = Guid.NewGuid();
        var again = Guid.NewGuid();

        await f.PublishAsync(command, messageId);
        await f.PublishAsync(command, messageId); // a redelivery: the inbox absorbs it
        await f.PublishAsync(command, again);     // the same command again: the unique command id absorbs it
        await Eventually.TrueAsync(() => Task.FromResult(f.Consumed.Count(messageId) == 2 && f.Consumed.Count(again) == 1), "the enqueuer handled all three");

        Assert.Single(await f.ItemsOfCommandAsync(command.CommandId));
        await f.EverythingPublishedAsync(f.Enqueued);
        Assert.Single(f.Enqueued.Received, d => d.As<LaunchJobEnqueued>().CommandId == command.CommandId);
    }

    [Fact]
    public async Task Should_fail_the_run_when_the_job_version_no_longer_exists()
    {
        var queue = await f.CreateQueueAsync();
        var job = await f.CreateJobAsync();
        var command = LaunchFixture.Command(job, queue, jobVersion: 7);

        await f.PublishAsync(command);

        var failed = (await f.Failed.WaitForAsync(d => d.As<LaunchJobFailed>().CommandId == command.CommandId))[0].As<LaunchJobFailed>();
        Assert.Equal(command.RunId, failed.RunId);
        Assert.Contains("Version 7", failed.Reason, StringComparison.Ordinal);
        Assert.Contains("no longer exists", failed.Reason, StringComparison.Ordinal);
        var item = Assert.Single(await f.ItemsOfCommandAsync(command.CommandId));
        Assert.Equal("failed", item.State);
        Assert.DoesNotContain(f.Enqueued.Received, d => d.As<LaunchJobEnqueued>().CommandId == command.CommandId);
    }

    [Fact]
    public async Task Should_fail_the_run_when_the_queue_no_longer_exists()
    {
        var job = await f.CreateJobAsync();
        var command = LaunchFixture.Command(job, Guid.NewGuid());

        await f.PublishAsync(command);

        var failed = (await f.Failed.WaitForAsync(d => d.As<LaunchJobFailed>().CommandId == command.CommandId))[0].As<LaunchJobFailed>();
        Assert.Contains("queue", failed.Reason, StringComparison.Ordinal);
        Assert.Contains("no longer exists", failed.Reason, StringComparison.Ordinal);
        Assert.Equal("failed", Assert.Single(await f.ItemsOfCommandAsync(command.CommandId)).State);
    }
}
