using Automations.Contracts;

using Automations.Testing;

namespace Automations.WebhookSender.Tests;

public class Redelivering_by_hand(SenderFixture fx) : IClassFixture<SenderFixture>
{
    private static RedeliverWebhook Request(Guid? deliveryId = null, Guid? webhookId = null, DateTimeOffset? from = null, DateTimeOffset? to = null) =>
        new(Guid.NewGuid(), "acme", deliveryId, webhookId, from, to, "admin", DateTimeOffset.UtcNow);

    [Fact]
    public async Task Should_attempt_a_failed_delivery_once_more_with_the_same_webhook_id()
    {
        var path = "/redeliver/" + Guid.NewGuid().ToString("N");
        fx.Receiver.Respond(path, Receiver.FailFirst(4, 500));
        var command = SenderFixture.Command(await fx.AddWebhookAsync(fx.Receiver.Url(path)));
        await fx.PublishAsync(command);
        var failed = await fx.WaitForStatusAsync(command.CommandId, "failed");

        await fx.PublishAsync(Request(deliveryId: failed.Id));
        var done = await fx.WaitForStatusAsync(command.CommandId, "succeeded");

        Assert.Equal(5, done.Attempts);
        var attempts = await fx.AttemptsAsync(done.Id);
        Assert.True(attempts[4].Manual);
        Assert.False(attempts[3].Manual);
        Assert.All(fx.Receiver.On(path), r => Assert.Equal(done.Id.ToString(), r.Header("webhook-id")));
    }

    [Fact]
    public async Task Should_redeliver_every_failed_delivery_of_a_webhook_in_a_time_range()
    {
        var path = "/range/" + Guid.NewGuid().ToString("N");
        var failing = true;
        fx.Receiver.Respond(path, (ctx, _) =>
        {
            ctx.Response.StatusCode = Volatile.Read(ref failing) ? 500 : 200;
            return Task.CompletedTask;
        });
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        var from = DateTimeOffset.UtcNow.AddMinutes(-1);
        var commands = new[] { SenderFixture.Command(webhook), SenderFixture.Command(webhook) };
        foreach (var c in commands) await fx.PublishAsync(c);
        foreach (var c in commands) await fx.WaitForStatusAsync(c.CommandId, "failed");

        Volatile.Write(ref failing, false);
        await fx.PublishAsync(Request(webhookId: webhook, from: DateTimeOffset.UtcNow.AddHours(-2), to: from));
        await fx.PublishAsync(Request(webhookId: webhook, from: from, to: DateTimeOffset.UtcNow.AddMinutes(1)));
        foreach (var c in commands)
            Assert.Equal(5, (await fx.WaitForStatusAsync(c.CommandId, "succeeded")).Attempts);
    }
}
