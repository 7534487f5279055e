using Automations.Testing;
using Automations.WebhookSender.Deliveries;

namespace Automations.WebhookSender.Tests;

public class PayloadBudgetFixture : SenderFixture
{
    /// <summary>Three of these fit in the budget.</summary>
    public static readonly string Payload = "{\"event_type\":\"ADD_ARTIFACT_ALIAS\",\"pad\":\"" + new string('x', 2000) + "\"}";

    public override Dictionary<string, string?> ServiceConfiguration()
    {
        var config = base.ServiceConfiguration();
        // Counts that would let 16 deliveries in (4 × 4), a byte budget that lets 3 in.
        config["Webhooks:MaxConcurrency"] = "4";
        config["Webhooks:MaxConcurrencyPerWebhook"] = "8";
        config["Webhooks:MaxHeldPayloadBytes"] = (3 * Payload.Length * sizeof(char)).ToString();
        config["Webhooks:Timeout"] = "00:01:00";
        // Every delivery stored before its request, so that the stored rows count what is held (Sending_before_storing
        // covers the other way).
        config["Webhooks:MaxInlineAttempts"] = "0";
        return config;
    }
}

/// <summary>
/// The payloads a sender holds in memory are bounded in bytes (Webhooks:MaxHeldPayloadBytes), not only in count: with
/// an endpoint that hangs, the consumer stops taking commands once the budget is held, the rest wait in the broker,
/// and every one is sent once when the endpoint answers.
/// </summary>
public class Bounding_held_payloads(PayloadBudgetFixture fx) : IClassFixture<PayloadBudgetFixture>
{
    [Fact]
    public async Task Should_hold_no_more_payload_bytes_than_the_budget_and_send_every_command_once()
    {
        using var held = fx.Sender!.Metric<long>("automations.deliveries.held");
        using var heldBytes = fx.Sender.Metric<long>("automations.deliveries.held_payload");
        var hanging = "/hang/" + Guid.NewGuid().ToString("N");
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        fx.Receiver.Respond(hanging, async (ctx, _) =>
        {
            await release.Task.WaitAsync(ctx.RequestAborted);
            ctx.Response.StatusCode = 200;
        });
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(hanging));

        var commands = Enumerable.Range(0, 10).Select(_ => SenderFixture.Command(webhook, PayloadBudgetFixture.Payload)).ToList();
        foreach (var c in commands) await fx.PublishAsync(c);
        await Eventually.TrueAsync(() => Task.FromResult(fx.Receiver.On(hanging).Count >= 3), "three requests at the hanging endpoint", TimeSpan.FromSeconds(30));

        // The budget is taken before a delivery is stored: the fourth command waits in the consumer, unstored.
        Assert.Equal(3, await CountAsync(webhook));
        held.RecordObservableInstruments();
        heldBytes.RecordObservableInstruments();
        Assert.Equal(3, held.LastMeasurement?.Value);
        Assert.Equal(3L * PayloadBudgetFixture.Payload.Length * sizeof(char), heldBytes.LastMeasurement?.Value);
        Assert.Equal(3, fx.Receiver.On(hanging).Count);

        release.SetResult();
        foreach (var c in commands) await fx.WaitForStatusAsync(c.CommandId, "succeeded", TimeSpan.FromSeconds(60));
        var received = fx.Receiver.On(hanging);
        Assert.Equal(10, received.Count);
        Assert.Equal(10, received.Select(r => r.Header("webhook-id")).Distinct().Count());
        heldBytes.RecordObservableInstruments();
        Assert.Equal(0, heldBytes.LastMeasurement?.Value);
    }

    private async Task<long> CountAsync(Guid webhookId)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return await Dapper.SqlMapper.ExecuteScalarAsync<long>(c, "select count(*) from delivery.deliveries where webhook_id = @webhookId", new { webhookId });
    }
}

public class Taking_from_a_byte_budget
{
    [Fact]
    public async Task Should_make_a_take_past_the_limit_wait_until_enough_is_given_back()
    {
        var budget = new ByteBudget(100);
        await budget.TakeAsync(60, CancellationToken.None);
        var waiting = budget.TakeAsync(50, CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        Assert.False(budget.TryTake(41));
        Assert.True(budget.TryTake(40));

        budget.Give(60);
        await waiting.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(90, budget.Used);
    }

    [Fact]
    public async Task Should_let_one_take_larger_than_the_budget_through_alone()
    {
        var budget = new ByteBudget(100);
        await budget.TakeAsync(500, CancellationToken.None);
        var next = budget.TakeAsync(1, CancellationToken.None);
        Assert.False(next.IsCompleted);
        budget.Give(500);
        await next.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(1, budget.Used);
    }

    [Fact]
    public async Task Should_leave_a_cancelled_wait_without_taking_anything()
    {
        var budget = new ByteBudget(10);
        await budget.TakeAsync(10, CancellationToken.None);
        using var cts = new CancellationTokenSource();
        var waiting = budget.TakeAsync(5, cts.Token);
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        Assert.Equal(10, budget.Used);
    }
}
