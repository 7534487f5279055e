using Automations.Testing;
using Dapper;

namespace Automations.WebhookSender.Tests;

/// <summary>The sender with partitions of a second and two seconds of history: finished deliveries go, a retrying one stays until it finishes.</summary>
public class Retaining_deliveries(Retaining_deliveries.Fixture fx) : IClassFixture<Retaining_deliveries.Fixture>
{
    public sealed class Fixture : SenderFixture
    {
        public override Dictionary<string, string?> ServiceConfiguration()
        {
            var config = base.ServiceConfiguration();
            config["Webhooks:RetrySchedule"] = "00:00:10,00:00:10";
            config["Retention:Interval"] = "00:00:01";
            config["Retention:History"] = "00:00:02";
            config["Retention:Inbox"] = "00:00:02";
            config["Retention:DedupeWindow"] = "00:00:01";
            config["Retention:Ahead"] = "30";
            config["Retention:CheckEvery"] = "00:00:00.500";
            return config;
        }
    }

    private async Task<string?> PartitionAsync(Guid commandId)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<string?>("select tableoid::regclass::text from delivery.deliveries where command_id = @commandId", new { commandId });
    }

    private async Task<int> AttemptCountAsync(Guid deliveryId)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<int>("select count(*) from delivery.attempts where delivery_id = @deliveryId", new { deliveryId });
    }

    [Fact]
    public async Task Should_keep_a_delivery_retrying_past_the_history_until_it_finishes_then_drop_it_with_its_attempts()
    {
        var retrying = "/hook/" + Guid.NewGuid().ToString("N");
        var prompt = "/hook/" + Guid.NewGuid().ToString("N");
        fx.Receiver.Respond(retrying, Receiver.FailFirst(2));
        var slow = SenderFixture.Command(await fx.AddWebhookAsync(fx.Receiver.Url(retrying))) with { CommandId = Guid.CreateVersion7() };
        // A command made a second and a half later (its id's time is the partition key): a partition of its own.
        var fast = SenderFixture.Command(await fx.AddWebhookAsync(fx.Receiver.Url(prompt))) with { CommandId = Guid.CreateVersion7(DateTimeOffset.UtcNow.AddSeconds(1.5)) };
        await fx.PublishAsync(slow);
        await fx.PublishAsync(fast);
        var slowDelivery = await fx.WaitForStatusAsync(slow.CommandId, "pending");
        var slowPartition = await PartitionAsync(slow.CommandId);
        Assert.StartsWith("delivery.deliveries_p", slowPartition);
        var fastDelivery = await fx.WaitForStatusAsync(fast.CommandId, "succeeded");
        Assert.NotEqual(slowPartition, await PartitionAsync(fast.CommandId));

        // The finished delivery leaves with its attempts once its partition is past History; the retrying one, as old, stays.
        // (Each table in a transaction of its own: attempts go in the same pass, just after their deliveries.)
        await Eventually.TrueAsync(async () => await PartitionAsync(fast.CommandId) is null && await AttemptCountAsync(fastDelivery.Id) == 0,
            "the finished delivery and its attempt are dropped", TimeSpan.FromSeconds(20));
        Assert.True(slowPartition == await PartitionAsync(slow.CommandId),
            $"the retrying delivery is still in {slowPartition}; its attempts reached the receiver at {string.Join(", ", fx.Receiver.On(retrying).Select(r => r.At.ToString("HH:mm:ss.fff", System.Globalization.CultureInfo.InvariantCulture)))}");
        Assert.Equal("pending", (await fx.DeliveryAsync(slow.CommandId))!.Status);

        // It finishes on its third attempt, with all of them recorded, and then goes too.
        var done = await fx.WaitForStatusAsync(slow.CommandId, "succeeded", TimeSpan.FromSeconds(40));
        Assert.Equal(3, done.Attempts);
        Assert.Equal(3, await AttemptCountAsync(slowDelivery.Id));
        Assert.Equal(3, fx.Receiver.On(retrying).Count);
        await Eventually.TrueAsync(async () => await PartitionAsync(slow.CommandId) is null && await AttemptCountAsync(slowDelivery.Id) == 0,
            "the finished delivery and its attempts are dropped", TimeSpan.FromSeconds(20));
    }
}
