using Automations.Testing;
using Dapper;

namespace Automations.WebhookSender.Tests;

/// <summary>
/// A fresh command whose webhook has a request slot free is sent while the consumer still holds its broker message, and
/// its delivery is stored once, with the outcome (Webhooks:MaxInlineAttempts): no claimed row first, no update after.
/// The message is acknowledged only after that write; a sender that stops mid-request finishes the request first.
/// </summary>
public class Sending_before_storing(OwnSenderFixture fx) : IClassFixture<OwnSenderFixture>
{
    [Fact]
    public async Task Should_store_the_delivery_once_with_its_outcome_after_the_request()
    {
        await using var sender = await fx.StartSenderAsync();
        var path = "/inline/" + Guid.NewGuid().ToString("N");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fx.Receiver.Respond(path, async (ctx, _) =>
        {
            await release.Task.WaitAsync(ctx.RequestAborted);
            ctx.Response.StatusCode = 200;
        });
        var command = SenderFixture.Command(await fx.AddWebhookAsync(fx.Receiver.Url(path)));
        await fx.PublishAsync(command);

        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(path).Count == 1), "the request is at the endpoint");
        // Sent, and nothing stored yet: the broker message is what keeps the command until the outcome is written.
        Assert.Null(await fx.DeliveryAsync(command.CommandId));

        release.SetResult();
        var delivery = await fx.WaitForStatusAsync(command.CommandId, "succeeded");
        Assert.Equal(1, delivery.Attempts);
        Assert.True(await fx.SettledAsync(command.CommandId));
        // The delivery id is the command's, and it is the webhook-id the endpoint saw.
        Assert.Equal(command.CommandId, delivery.Id);
        Assert.Equal(delivery.Id.ToString(), fx.Receiver.On(path).Single().Header("webhook-id"));
        Assert.Equal([200], (await fx.AttemptsAsync(delivery.Id)).Select(a => a.StatusCode));
        // The row was written by the attempt's transaction (the one commit of this delivery).
        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.True(await c.ExecuteScalarAsync<bool>(
            "select d.xmin = a.xmin from delivery.deliveries d join delivery.attempts a on a.delivery_id = d.id where d.id = @Id",
            new { delivery.Id }));
    }

    [Fact]
    public async Task Should_keep_a_command_whose_sender_stops_mid_request_and_send_it_again_with_the_same_webhook_id()
    {
        var path = "/inline-stop/" + Guid.NewGuid().ToString("N");
        // The first request hangs past the sender's timeout; the next one is answered.
        fx.Receiver.Respond(path, async (ctx, n) =>
        {
            if (n == 1) await Task.Delay(Timeout.Infinite, ctx.RequestAborted);
            ctx.Response.StatusCode = 200;
        });
        var command = SenderFixture.Command(await fx.AddWebhookAsync(fx.Receiver.Url(path)));

        var first = await fx.StartSenderAsync();
        await fx.PublishAsync(command);
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(path).Count == 1), "the first request is at the endpoint");
        // The bus stops once the consumer is done: the request ends (here by the timeout) and its outcome is stored.
        await first.DisposeAsync();

        await using var second = await fx.StartSenderAsync();
        var delivery = await fx.WaitForStatusAsync(command.CommandId, "succeeded");
        var requests = fx.Receiver.On(path);
        Assert.Equal(2, requests.Count);
        Assert.All(requests, r => Assert.Equal(delivery.Id.ToString(), r.Header("webhook-id")));
        Assert.Equal([null, 200], (await fx.AttemptsAsync(delivery.Id)).Select(a => a.StatusCode));
    }
}
