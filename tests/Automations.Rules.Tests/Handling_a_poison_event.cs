using System.Text;
using Automations.Testing;
using Dapper;
using RabbitMQ.Client;
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

        var factory = new ConnectionFactory { Uri = new Uri(fx.RabbitMqConnectionString) };
        await using var connection = await factory.CreateConnectionAsync();
        BasicGetResult? faulted = null;
        await Eventually.TrueAsync(async () =>
        {
            // A get on a queue that does not exist yet (it is declared on the first fault) closes the channel: one per try.
            await using var channel = await connection.CreateChannelAsync();
            try { faulted = await channel.BasicGetAsync("rules-artifact-events_error", autoAck: true); }
            catch (RabbitMQ.Client.Exceptions.OperationInterruptedException) { faulted = null; }
            return faulted is not null;
        }, "the event reached rules-artifact-events_error");
        var body = Encoding.UTF8.GetString(faulted!.Body.Span);
        Assert.Contains(poison.EventId.ToString(), body, StringComparison.Ordinal);
        var exceptionType = Encoding.UTF8.GetString((byte[])faulted.BasicProperties.Headers!["MT-Fault-ExceptionType"]!);
        Assert.Equal("System.Text.Json.JsonReaderException", exceptionType);
        Assert.Empty(await fx.RunsOfEventAsync(poison.EventId));
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            Assert.Equal(0, await c.ExecuteScalarAsync<int>("select count(*) from rules.outbox where body->>'eventId' = @id", new { id = poison.EventId.ToString() }));

        var next = Event(healthy);
        await fx.HandleAsync(next);
        Assert.Equal(["fine"], (await fx.RunsOfEventAsync(next.EventId)).Select(r => r.AutomationName));
    }
}
