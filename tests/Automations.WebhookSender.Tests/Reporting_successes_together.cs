using Automations.Contracts;
using Automations.Testing;
using Dapper;

namespace Automations.WebhookSender.Tests;

public class OwnSenderFixture : SenderFixture
{
    protected override bool StartSender => false;
}

/// <summary>
/// Successful deliveries reach Rules as WebhookDeliveriesCompleted batches (one broker message for many); an outcome
/// the batch path does not carry goes through the relay as the single WebhookDeliveryCompleted.
/// </summary>
public class Reporting_successes_together(OwnSenderFixture fx) : IClassFixture<OwnSenderFixture>
{
    private async Task<List<SendWebhook>> DeliverAsync(int count)
    {
        var path = "/together/" + Guid.NewGuid().ToString("N");
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        var commands = Enumerable.Range(0, count).Select(_ => SenderFixture.Command(webhook)).ToList();
        await Task.WhenAll(commands.Select(c => fx.PublishAsync(c)));
        foreach (var c in commands) await fx.WaitForStatusAsync(c.CommandId, "succeeded");
        return commands;
    }

    private async Task<long> OutboxRowsAsync(string type)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<long>("select count(*) from delivery.outbox where message_type = @type", new { type });
    }

    [Fact]
    public async Task Should_publish_concurrent_successes_in_fewer_messages_each_exactly_once_and_clear_their_rows()
    {
        await using var sender = await fx.StartSenderAsync();
        await using var batches = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(WebhookDeliveriesCompleted));
        await using var singles = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(WebhookDeliveryCompleted));

        var commands = await DeliverAsync(40);
        var ids = commands.Select(c => c.CommandId).ToHashSet();
        List<WebhookDeliveryCompleted> Carried() => batches.Received.SelectMany(d => d.As<WebhookDeliveriesCompleted>().Deliveries).Where(d => ids.Contains(d.CommandId)).ToList();
        await Eventually.TrueAsync(() => Task.FromResult(Carried().Select(d => d.CommandId).Distinct().Count() == ids.Count), "every success carried by a batch");

        var carried = Carried();
        Assert.Equal(ids.Count, carried.Count); // none twice
        Assert.All(carried, d => Assert.Equal((200, 1), (d.StatusCode, d.Attempts)));
        var messages = batches.Received.Count(d => d.As<WebhookDeliveriesCompleted>().Deliveries.Any(x => ids.Contains(x.CommandId)));
        Assert.InRange(messages, 1, ids.Count - 1);
        // Confirmed batches delete their rows: the relay has nothing left to send again.
        await Eventually.TrueAsync(async () => await OutboxRowsAsync(nameof(WebhookDeliveryCompleted)) == 0, "the batched rows are deleted");
        Assert.Empty(singles.Received);
    }

    [Fact]
    public async Task Should_publish_full_batches_at_once_instead_of_one_per_linger()
    {
        // A linger far longer than the deliveries take: every success is queued within one linger, four batches' worth.
        var linger = TimeSpan.FromSeconds(10);
        await using var sender = await fx.StartSenderAsync(new Dictionary<string, string?>
        {
            ["Outbox:BatchLinger"] = linger.ToString(),
            ["Outbox:MaxBatch"] = "5",
        });
        await using var batches = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(WebhookDeliveriesCompleted));

        var commands = await DeliverAsync(20);
        var ids = commands.Select(c => c.CommandId).ToHashSet();
        List<MessageProbe.Delivery> Carrying() =>
            [.. batches.Received.Where(d => d.As<WebhookDeliveriesCompleted>().Deliveries.Any(x => ids.Contains(x.CommandId)))];
        await Eventually.TrueAsync(() => Task.FromResult(Carrying().Sum(d => d.As<WebhookDeliveriesCompleted>().Deliveries.Count(x => ids.Contains(x.CommandId))) == ids.Count),
            "every success carried by a batch", timeout: TimeSpan.FromSeconds(60));

        // At most one linger between the first batch and the last: a full batch already queued goes at once (a group
        // commit can queue five before the loop looks), what is short of one waits a linger, and then the queued
        // batches go back to back. Waiting a linger before each would spread the four over three lingers.
        var carrying = Carrying();
        var sent = carrying.Select(d => d.Envelope.GetProperty("sentTime").GetDateTimeOffset()).ToList();
        Assert.All(carrying, d => Assert.InRange(d.As<WebhookDeliveriesCompleted>().Deliveries.Count, 1, 5));
        Assert.True(sent.Max() - sent.Min() < 2 * linger, $"batches sent over {sent.Max() - sent.Min()}, a linger is {linger}");
    }

    [Fact]
    public async Task Should_leave_successes_to_the_relay_as_single_messages_when_writers_do_not_publish()
    {
        await using var sender = await fx.StartSenderAsync(new Dictionary<string, string?> { ["Outbox:Direct"] = "false" });
        await using var batches = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(WebhookDeliveriesCompleted));
        await using var singles = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(WebhookDeliveryCompleted));

        var commands = await DeliverAsync(5);
        foreach (var c in commands)
            await singles.WaitForAsync(d => d.As<WebhookDeliveryCompleted>().CommandId == c.CommandId);
        Assert.Empty(batches.Received);
        await Eventually.TrueAsync(async () => await OutboxRowsAsync(nameof(WebhookDeliveryCompleted)) == 0, "the relay deleted what it published");
    }
}
