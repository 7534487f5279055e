using Automations.Contracts;
using Automations.Testing;
using Dapper;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

/// <summary>
/// Ingestion's events committed while its last publish waited for the broker's confirm reach Rules as one
/// ArtifactEventsReceived. Each event of it is handled exactly as the single message: under the same inbox key, so one
/// that comes again (the batch redelivered, or the event alone from the relay) fires nothing twice; in its own trace;
/// and a poison event goes to the error queue alone, the others of its batch kept.
/// </summary>
public class Receiving_events_together(RulesFixture fx) : IClassFixture<RulesFixture>
{
    private static readonly Random Random = new();

    private static string NewTraceparent() =>
        $"00-{Convert.ToHexStringLower(RandomBytes(16))}-{Convert.ToHexStringLower(RandomBytes(8))}-01";

    private static byte[] RandomBytes(int n)
    {
        var b = new byte[n];
        Random.NextBytes(b);
        return b;
    }

    private async Task WaitHandledAsync(IEnumerable<ArtifactEventReceived> events)
    {
        var ids = events.Select(e => e.EventId).ToArray();
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await fx.DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<int>(
                "select count(*) from rules.inbox where consumer = 'rules-artifact-events' and message_id = any(@ids)", new { ids }) == ids.Length;
        }, "Rules handled every event of the batch");
    }

    [Fact]
    public async Task Should_fire_each_event_of_a_batch_once_in_its_own_trace()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("a"));
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("b"));
        var items = Enumerable.Range(0, 5).Select(_ => new ArtifactEventItem(Event(project), NewTraceparent())).ToList();
        await using var probe = await PublishedCommands.StartAsync(fx.RabbitMqConnectionString);

        await fx.PublishAsync(new ArtifactEventsReceived(items));
        await WaitHandledAsync(items.Select(i => i.Event));

        foreach (var item in items)
        {
            var runs = await fx.RunsOfEventAsync(item.Event.EventId);
            Assert.Equal(["a", "b"], runs.Select(r => r.AutomationName).Order());
            // The commands continue the event's trace: the one its item carried, as the single message's header would.
            var commands = await probe.WaitForCommandsAsync(c => c.EventId == item.Event.EventId, 2);
            var traceId = item.Traceparent!.Split('-')[1];
            Assert.All(commands, c => Assert.Equal(traceId, c.Traceparent?.Split('-')[1]));
        }
    }

    [Fact]
    public async Task Should_commit_the_events_of_a_batch_together_and_send_their_commands_in_one_message()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("a"));
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("b"));
        var items = Enumerable.Range(0, 5).Select(_ => new ArtifactEventItem(Event(project), NewTraceparent())).ToList();
        var ids = items.Select(i => i.Event.EventId).ToArray();
        await using var probe = await PublishedCommands.StartAsync(fx.RabbitMqConnectionString);

        await fx.PublishAsync(new ArtifactEventsReceived(items));
        await WaitHandledAsync(items.Select(i => i.Event));
        var commands = await probe.WaitForCommandsAsync(c => ids.Contains(c.EventId), 10);

        await using var c = await fx.DataSource.OpenConnectionAsync();
        // Rows written by one transaction share its id (xmin): the five events' runs and inbox marks, one commit.
        Assert.Equal(1, await c.ExecuteScalarAsync<long>(
            """
            select count(distinct x) from (
              select xmin::text as x from rules.runs where event_id = any(@ids)
              union all
              select xmin::text from rules.inbox where consumer = 'rules-artifact-events' and message_id = any(@ids)) as written
            """, new { ids }));
        Assert.Equal(10, commands.Select(x => x.Command.CommandId).Distinct().Count());
        Assert.Single(probe.Received, d => PublishedCommands.Of(d).Any(x => ids.Contains(x.Command.EventId)));
    }

    [Fact]
    public async Task Should_fire_nothing_twice_when_a_batch_comes_again_or_its_events_come_alone()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("a"));
        var items = Enumerable.Range(0, 4).Select(_ => new ArtifactEventItem(Event(project), null)).ToList();
        await using var probe = await PublishedCommands.StartAsync(fx.RabbitMqConnectionString);

        await fx.PublishAsync(new ArtifactEventsReceived(items));
        await WaitHandledAsync(items.Select(i => i.Event));
        // The same batch again (a redelivery), and each event as the relay would publish it: alone, its id the message's.
        var again = Guid.CreateVersion7();
        await fx.PublishAsync(new ArtifactEventsReceived(items), again);
        foreach (var item in items) await fx.PublishAsync(item.Event, item.Event.EventId);
        await Eventually.TrueAsync(() => Task.FromResult(fx.Consumed.Count(again) == 1 && items.All(i => fx.Consumed.Count(i.Event.EventId) == 1)),
            "Rules consumed the batch again and each event alone");
        await fx.EverythingPublishedAsync(probe);

        foreach (var item in items)
        {
            Assert.Single(await fx.RunsOfEventAsync(item.Event.EventId));
            Assert.Single(probe.Commands(), c => c.Command.EventId == item.Event.EventId);
        }
    }

    [Fact]
    public async Task Should_send_a_poison_event_alone_to_the_error_queue_and_keep_the_others()
    {
        var poisoned = "p-" + Guid.NewGuid().ToString("N")[..10];
        // Written past the Api's validation: a stored payload that is not JSON makes rendering throw every time.
        await fx.CreateWebhookAutomationAsync(poisoned, new AutomationSpec("broken", Payload: "{not json"));
        var healthy = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(healthy, new AutomationSpec("fine"));
        var (first, poison, last) = (Event(healthy), Event(poisoned), Event(healthy));

        await fx.PublishAsync(new ArtifactEventsReceived([new(first, null), new(poison, null), new(last, null)]));
        await WaitHandledAsync([first, last]);
        Assert.Equal(["fine"], (await fx.RunsOfEventAsync(first.EventId)).Select(r => r.AutomationName));
        Assert.Equal(["fine"], (await fx.RunsOfEventAsync(last.EventId)).Select(r => r.AutomationName));

        var faulted = await fx.FaultedEventAsync();
        // Alone: the single message, with its own exception, and none of the batch's other events.
        var body = faulted.Body;
        Assert.Contains(poison.EventId.ToString(), body, StringComparison.Ordinal);
        Assert.DoesNotContain(first.EventId.ToString(), body, StringComparison.Ordinal);
        Assert.Contains("urn:message:Automations.Contracts:ArtifactEventReceived\"", body, StringComparison.Ordinal);
        Assert.Equal("System.Text.Json.JsonReaderException", faulted.ExceptionType);
        Assert.Empty(await fx.RunsOfEventAsync(poison.EventId));
    }

    [Fact]
    public async Task Should_skip_empty_items()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("a"));
        var e = Event(project);
        var batchId = Guid.CreateVersion7();

        await fx.PublishAsync(new ArtifactEventsReceived([null!, new(null!, null), new(e, null)]), batchId);
        await WaitHandledAsync([e]);
        var empty = Guid.CreateVersion7();
        await fx.PublishAsync(new ArtifactEventsReceived(null!), empty);

        await Eventually.TrueAsync(() => Task.FromResult(fx.Consumed.Count(batchId) == 1 && fx.Consumed.Count(empty) == 1), "Rules consumed both batches");
        Assert.Single(await fx.RunsOfEventAsync(e.EventId));
    }
}
