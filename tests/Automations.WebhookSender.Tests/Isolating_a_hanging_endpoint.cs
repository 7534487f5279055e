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
