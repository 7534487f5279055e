using Automations.Testing;

namespace Automations.WebhookSender.Tests;

public class SmallPoolFixture : SenderFixture
{
    public override Dictionary<string, string?> ServiceConfiguration()
    {
        var config = base.ServiceConfiguration();
        config["Webhooks:MaxConcurrency"] = "4";
        config["Webhooks:MaxConcurrencyPerWebhook"] = "2";
        config["Webhooks:Timeout"] = "00:01:00";
        return config;
    }
}

/// <summary>
/// Four request slots in the process, two per webhook: an endpoint that never answers holds its two slots, and a
/// healthy webhook is delivered meanwhile (with one shared pool only, the hanging endpoint would take all four).
/// </summary>
public class Isolating_a_hanging_endpoint(SmallPoolFixture fx) : IClassFixture<SmallPoolFixture>
{
    [Fact]
    public async Task Should_deliver_to_a_healthy_webhook_while_another_hangs()
    {
        var hanging = "/hang/" + Guid.NewGuid().ToString("N");
        var healthy = "/ok/" + Guid.NewGuid().ToString("N");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fx.Receiver.Respond(hanging, async (ctx, _) =>
        {
            await release.Task.WaitAsync(ctx.RequestAborted);
            ctx.Response.StatusCode = 200;
        });
        var slow = await fx.AddWebhookAsync(fx.Receiver.Url(hanging));
        var fast = await fx.AddWebhookAsync(fx.Receiver.Url(healthy));

        var slowCommands = Enumerable.Range(0, 6).Select(_ => SenderFixture.Command(slow)).ToList();
        foreach (var c in slowCommands) await fx.PublishAsync(c);
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(hanging).Count >= 2), "the hanging endpoint holds two requests");

        var fastCommands = Enumerable.Range(0, 3).Select(_ => SenderFixture.Command(fast)).ToList();
        foreach (var c in fastCommands) await fx.PublishAsync(c);
        foreach (var c in fastCommands) await fx.WaitForStatusAsync(c.CommandId, "succeeded", TimeSpan.FromSeconds(30));

        Assert.False(release.Task.IsCompleted);
        Assert.Equal(2, fx.Receiver.On(hanging).Count);
        Assert.Equal(3, fx.Receiver.On(healthy).Count);

        release.SetResult();
        foreach (var c in slowCommands) await fx.WaitForStatusAsync(c.CommandId, "succeeded");
        Assert.Equal(6, fx.Receiver.On(hanging).Count);
    }
}

public class TightHoldFixture : SenderFixture
{
    public override Dictionary<string, string?> ServiceConfiguration()
    {
        var config = base.ServiceConfiguration();
        // The process holds at most 4 × 4 = 16 deliveries; one webhook at most 1 × 8 = 8 of them.
        config["Webhooks:MaxConcurrency"] = "4";
        config["Webhooks:MaxConcurrencyPerWebhook"] = "1";
        config["Webhooks:Timeout"] = "00:01:00";
        // Every delivery stored before its request, so that the stored rows count what is held and parked.
        config["Webhooks:MaxInlineAttempts"] = "0";
        return config;
    }
}

/// <summary>
/// A webhook whose endpoint hangs gets more commands than the whole process may hold (30 against 16). Without the
/// per-webhook hold limit its deliveries fill the process and the consumer stops taking commands for every webhook;
/// with it, the sender holds 8 of them, stores the rest unclaimed in PostgreSQL (the scheduler leaves them while the
/// webhook is busy), and goes on with other webhooks. When the endpoint answers again, every parked delivery is sent,
/// each exactly once.
/// </summary>
public class Parking_the_deliveries_of_a_busy_webhook(TightHoldFixture fx) : IClassFixture<TightHoldFixture>
{
    [Fact]
    public async Task Should_park_what_a_hanging_webhook_cannot_hold_and_send_each_once_when_it_answers()
    {
        var hanging = "/hang/" + Guid.NewGuid().ToString("N");
        var healthy = "/ok/" + Guid.NewGuid().ToString("N");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fx.Receiver.Respond(hanging, async (ctx, _) =>
        {
            await release.Task.WaitAsync(ctx.RequestAborted);
            ctx.Response.StatusCode = 200;
        });
        var slow = await fx.AddWebhookAsync(fx.Receiver.Url(hanging));
        var fast = await fx.AddWebhookAsync(fx.Receiver.Url(healthy));

        var slowCommands = Enumerable.Range(0, 30).Select(_ => SenderFixture.Command(slow)).ToList();
        foreach (var c in slowCommands) await fx.PublishAsync(c);
        // Every command is stored (none waits in the broker): 8 held by the process (one of them sending), 22 parked.
        await Eventually.TrueAsync(async () => await CountAsync(slow, "status = 'pending' and claim is null") == 22, "22 deliveries stored unclaimed", TimeSpan.FromSeconds(30));
        Assert.Equal(30, await CountAsync(slow, "status = 'pending'"));
        // The rows commit together (group commit), so the one request may still be on its way: wait for it; that no
        // second one follows is checked below, after a second.
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(hanging).Count >= 1), "the hanging endpoint holds one request", TimeSpan.FromSeconds(30));

        // The consumer still takes commands for other webhooks.
        var fastCommands = Enumerable.Range(0, 5).Select(_ => SenderFixture.Command(fast)).ToList();
        foreach (var c in fastCommands) await fx.PublishAsync(c);
        foreach (var c in fastCommands) await fx.WaitForStatusAsync(c.CommandId, "succeeded", TimeSpan.FromSeconds(30));
        Assert.Equal(5, fx.Receiver.On(healthy).Count);

        // The parked deliveries are due, but the scheduler leaves the busy webhook's alone: once it has sent a delivery
        // only it can pick up (stored unclaimed for the healthy webhook, due after them), it has passed them over.
        var scheduled = SenderFixture.Command(fast);
        await fx.InsertDueDeliveryAsync(scheduled);
        await fx.WaitForStatusAsync(scheduled.CommandId, "succeeded", TimeSpan.FromSeconds(30));
        Assert.False(release.Task.IsCompleted);
        Assert.Equal(22, await CountAsync(slow, "status = 'pending' and claim is null"));
        Assert.Single(fx.Receiver.On(hanging));

        release.SetResult();
        foreach (var c in slowCommands) await fx.WaitForStatusAsync(c.CommandId, "succeeded", TimeSpan.FromSeconds(60));
        var received = fx.Receiver.On(hanging);
        Assert.Equal(30, received.Count);
        Assert.Equal(30, received.Select(r => r.Header("webhook-id")).Distinct().Count());
        Assert.Equal(30, await CountAsync(slow, "status = 'succeeded' and attempts = 1"));
    }

    private async Task<long> CountAsync(Guid webhookId, string where)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return await Dapper.SqlMapper.ExecuteScalarAsync<long>(c,
            $"select count(*) from delivery.deliveries where webhook_id = @webhookId and {where}", new { webhookId });
    }
}

public class SlowTickFixture : TightHoldFixture
{
    public override Dictionary<string, string?> ServiceConfiguration()
    {
        var config = base.ServiceConfiguration();
        // The scheduler's own tick comes only after the test's wait: whatever it sends in time was woken.
        config["Webhooks:SchedulerInterval"] = "00:10:00";
        return config;
    }
}

/// <summary>
/// A flood for one webhook is more than it may hold (40 commands against 8 holds): the rest is stored unclaimed. Its
/// endpoint answers at once, so the parked deliveries must be taken as room comes back, not at the scheduler's next tick
/// (ten minutes here; half a second by default, which capped a flood's drain at the webhook's holds per tick).
/// </summary>
public class Draining_a_webhooks_overflow(SlowTickFixture fx) : IClassFixture<SlowTickFixture>
{
    [Fact]
    public async Task Should_take_parked_deliveries_as_the_webhook_has_room_again_without_waiting_for_the_tick()
    {
        var path = "/ok/" + Guid.NewGuid().ToString("N");
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));

        var commands = Enumerable.Range(0, 40).Select(_ => SenderFixture.Command(webhook)).ToList();
        foreach (var c in commands) await fx.PublishAsync(c);
        foreach (var c in commands) await fx.WaitForStatusAsync(c.CommandId, "succeeded", TimeSpan.FromSeconds(60));

        var received = fx.Receiver.On(path);
        Assert.Equal(40, received.Count);
        Assert.Equal(40, received.Select(r => r.Header("webhook-id")).Distinct().Count());
    }
}
