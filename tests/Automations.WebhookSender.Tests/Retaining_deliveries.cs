using Automations.Testing;
using Dapper;

namespace Automations.WebhookSender.Tests;

/// <summary>
/// The sender with partitions of a second and two seconds of history: finished deliveries go, a retrying one stays until
/// it finishes. What the test looks at is held in place (a partition lock, a receiver that recovers when told), so no
/// step depends on seeing a state that lasts only until the next maintenance check.
/// </summary>
public class Retaining_deliveries(Retaining_deliveries.Fixture fx) : IClassFixture<Retaining_deliveries.Fixture>
{
    public sealed class Fixture : SenderFixture
    {
        public override Dictionary<string, string?> ServiceConfiguration()
        {
            var config = base.ServiceConfiguration();
            // Retries for a minute: the retrying delivery stays pending until the test lets its receiver answer.
            config["Webhooks:RetrySchedule"] = string.Join(',', Enumerable.Repeat("00:00:05", 12));
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

    /// <summary>
    /// Holds the deliveries partition that <paramref name="at"/> falls in (created ahead) against being dropped, until
    /// disposed: an ACCESS SHARE lock conflicts with the drop's ACCESS EXCLUSIVE, which gives up after its 500 ms lock
    /// timeout and is tried again at the next check. A finished delivery past History lives at most one check (half a
    /// second here) before its partition goes, too short to be seen reliably by polling. Waits for the sender's first
    /// maintenance pass to create the partition (until then rows land in the default partition).
    /// </summary>
    private async Task<Hold> HoldAsync(DateTimeOffset at)
    {
        string? partition = null;
        await Eventually.TrueAsync(async () => (partition = await PartitionOfAsync(at)) is not null, $"a partition for {at:O} exists", TimeSpan.FromSeconds(30));
        var c = await fx.DataSource.OpenConnectionAsync();
        var tx = await c.BeginTransactionAsync();
        await c.ExecuteAsync($"lock table {partition} in access share mode", transaction: tx);
        return new Hold(partition!, c, tx);
    }

    private async Task<string?> PartitionOfAsync(DateTimeOffset at)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<string?>(
            """
            select c.oid::regclass::text
            from pg_inherits i join pg_class c on c.oid = i.inhrelid
            cross join lateral pg_get_expr(c.relpartbound, c.oid) as b
            where i.inhparent = 'delivery.deliveries'::regclass
              and (regexp_match(b, $re$FROM \('([^']+)'\)$re$))[1]::timestamptz <= @at
              and @at < (regexp_match(b, $re$TO \('([^']+)'\)$re$))[1]::timestamptz
            """, new { at });
    }

    private sealed record Hold(string Partition, Npgsql.NpgsqlConnection Connection, Npgsql.NpgsqlTransaction Transaction) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await Transaction.DisposeAsync();
            await Connection.DisposeAsync();
        }
    }

    /// <summary>A UUIDv7 made at <paramref name="at"/> (to the millisecond, as the sender reads it back), and that time.</summary>
    private static (Guid Id, DateTimeOffset At) CommandIdAt(DateTimeOffset at)
    {
        var ms = DateTimeOffset.FromUnixTimeMilliseconds(at.ToUnixTimeMilliseconds());
        return (Guid.CreateVersion7(ms), ms);
    }

    [Fact]
    public async Task Should_keep_a_delivery_retrying_past_the_history_until_it_finishes_then_drop_it_with_its_attempts()
    {
        var retrying = "/hook/" + Guid.NewGuid().ToString("N");
        var prompt = "/hook/" + Guid.NewGuid().ToString("N");
        // The retrying webhook fails until the test has seen what it checks while the delivery is pending.
        var recovered = false;
        fx.Receiver.Respond(retrying, (ctx, _) =>
        {
            ctx.Response.StatusCode = Volatile.Read(ref recovered) ? 200 : 500;
            return Task.CompletedTask;
        });
        var slowId = CommandIdAt(DateTimeOffset.UtcNow);
        var slow = SenderFixture.Command(await fx.AddWebhookAsync(fx.Receiver.Url(retrying))) with { CommandId = slowId.Id };
        // A command made a second and a half later (its id's time is the partition key): a partition of its own.
        var fastId = CommandIdAt(slowId.At.AddSeconds(1.5));
        var fast = SenderFixture.Command(await fx.AddWebhookAsync(fx.Receiver.Url(prompt))) with { CommandId = fastId.Id };
        var fastHold = await HoldAsync(fastId.At);
        Hold? slowHold = null;
        try
        {
            await fx.PublishAsync(slow);
            await fx.PublishAsync(fast);
            var slowDelivery = await fx.WaitForStatusAsync(slow.CommandId, "pending");
            var slowPartition = await PartitionAsync(slow.CommandId);
            Assert.StartsWith("delivery.deliveries_p", slowPartition);
            var fastDelivery = await fx.WaitForStatusAsync(fast.CommandId, "succeeded");
            Assert.Equal(fastHold.Partition, await PartitionAsync(fast.CommandId));
            Assert.NotEqual(slowPartition, fastHold.Partition);

            // The finished delivery leaves with its attempts once its partition is past History; the retrying one, older, stays.
            // (Each table in a transaction of its own: attempts go in the same pass, just after their deliveries. A pass that
            // finds the table busy tries again at the next one, so on a loaded machine this can take several passes.)
            await fastHold.DisposeAsync();
            await Eventually.TrueAsync(async () => await PartitionAsync(fast.CommandId) is null && await AttemptCountAsync(fastDelivery.Id) == 0,
                "the finished delivery and its attempt are dropped", TimeSpan.FromSeconds(60));
            Assert.Equal(slowPartition, await PartitionAsync(slow.CommandId));
            var pending = (await fx.DeliveryAsync(slow.CommandId))!;
            Assert.Equal("pending", pending.Status);
            Assert.Equal(pending.Attempts, await AttemptCountAsync(slowDelivery.Id));

            // It finishes at its next attempt, with all of them recorded, and then goes too.
            slowHold = await HoldAsync(slowId.At);
            Volatile.Write(ref recovered, true);
            var done = await fx.WaitForStatusAsync(slow.CommandId, "succeeded", TimeSpan.FromSeconds(40));
            Assert.True(done.Attempts >= 2, $"{done.Attempts} attempts");
            Assert.Equal(done.Attempts, await AttemptCountAsync(slowDelivery.Id));
            Assert.Equal(done.Attempts, fx.Receiver.On(retrying).Count);
            await slowHold.DisposeAsync();
            await Eventually.TrueAsync(async () => await PartitionAsync(slow.CommandId) is null && await AttemptCountAsync(slowDelivery.Id) == 0,
                "the finished delivery and its attempts are dropped", TimeSpan.FromSeconds(60));
        }
        finally
        {
            await fastHold.DisposeAsync();
            if (slowHold is not null) await slowHold.DisposeAsync();
        }
    }
}
