using Automations.Testing;
using Dapper;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

public class Handling_a_poison_event(RulesFixture fx) : IClassFixture<RulesFixture>
{
    [Fact]
    public async Task Should_move_it_to_the_error_queue_with_its_exception_and_keep_consuming()
    {
        var poisoned = "p-" + Guid.NewGuid().ToString("N")[..10];
        // Written past the Api's validation: a stored payload that is not JSON makes rendering throw every time.
        await fx.CreateWebhookAutomationAsync(poisoned, new AutomationSpec("broken", Payload: "{not json"));
        var healthy = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(healthy, new AutomationSpec("fine"));

        var poison = Event(poisoned);
        await fx.PublishAsync(poison);

        var faulted = await fx.FaultedEventAsync();
        var body = faulted.Body;
        Assert.Contains(poison.EventId.ToString(), body, StringComparison.Ordinal);
        Assert.Equal("System.Text.Json.JsonReaderException", faulted.ExceptionType);
        Assert.Empty(await fx.RunsOfEventAsync(poison.EventId));
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            Assert.Equal(0, await c.ExecuteScalarAsync<int>("select count(*) from rules.outbox where body->>'eventId' = @id", new { id = poison.EventId.ToString() }));

        var next = Event(healthy);
        await fx.HandleAsync(next);
        Assert.Equal(["fine"], (await fx.RunsOfEventAsync(next.EventId)).Select(r => r.AutomationName));
    }
}
