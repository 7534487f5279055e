using System.Diagnostics;
using Automations.Contracts;
using Automations.Testing;
using Dapper;

namespace Automations.WebhookSender.Tests;

/// <summary>
/// Rules sends the commands committed while its last publish waited for a confirm as one SendWebhooks message: each item
/// is delivered as the single command would be, in the event's own trace, and a batch or an item that comes again sends
/// nothing twice.
/// </summary>
public class Delivering_commands_in_a_batch(SenderFixture fx) : IClassFixture<SenderFixture>
{
    [Fact]
    public async Task Should_deliver_each_command_once_in_the_trace_it_was_made_in()
    {
        var path = "/batch/" + Guid.NewGuid().ToString("N");
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        var commands = Enumerable.Range(0, 3).Select(i => SenderFixture.Command(webhook, $$"""{"event_type":"ADD_ARTIFACT_ALIAS","n":{{i}}}""")).ToList();
        var traces = commands.Select(_ => ActivityTraceId.CreateRandom()).ToList();
        var items = commands.Select((c, i) => new SendWebhookItem(c, $"00-{traces[i]}-{ActivitySpanId.CreateRandom()}-01")).ToList();
        var (first, again, alone) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());

        await fx.PublishAsync(new SendWebhooks(items), first);
        foreach (var command in commands) await fx.WaitForStatusAsync(command.CommandId, "succeeded");
        // The batch again (a redelivery), and its first command alone (the relay's form of a row the batch also carried).
        await fx.PublishAsync(new SendWebhooks(items), again);
        await fx.PublishAsync(commands[0], alone);
        await Eventually.TrueAsync(() => Task.FromResult(new[] { first, again, alone }.All(id => fx.Consumed.Count(id) == 1)), "the sender consumed every copy");

        var requests = fx.Receiver.On(path);
        Assert.Equal(3, requests.Count);
        for (var i = 0; i < commands.Count; i++)
        {
            var request = Assert.Single(requests, r => r.BodyText.Contains($"\"n\":{i}", StringComparison.Ordinal));
            Assert.StartsWith($"00-{traces[i]}-", request.Header("traceparent"), StringComparison.Ordinal);
            Assert.True(await fx.SettledAsync(commands[i].CommandId));
        }
        await using var connection = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(3, await connection.ExecuteScalarAsync<int>("select count(*) from delivery.deliveries where command_id = any(@ids)",
            new { ids = commands.Select(x => x.CommandId).ToArray() }));
    }

    [Fact]
    public async Task Should_skip_an_empty_item_and_deliver_the_rest()
    {
        var path = "/batch/" + Guid.NewGuid().ToString("N");
        var webhook = await fx.AddWebhookAsync(fx.Receiver.Url(path));
        var command = SenderFixture.Command(webhook);
        var id = Guid.NewGuid();

        await fx.PublishAsync(new SendWebhooks([null!, new SendWebhookItem(null!, null), new SendWebhookItem(command, "not a traceparent")]), id);

        await fx.WaitForStatusAsync(command.CommandId, "succeeded");
        await Eventually.TrueAsync(() => Task.FromResult(fx.Consumed.Count(id) == 1), "the sender consumed the batch");
        Assert.Single(fx.Receiver.On(path));
    }
}
