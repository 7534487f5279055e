using Automations.Contracts;
using Automations.Testing;
using Dapper;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

public class Delivering_an_event_twice(RulesFixture fx) : IClassFixture<RulesFixture>
{
    [Fact]
    public async Task Should_create_one_run_and_one_command_when_the_same_message_comes_again()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("a"));
        var e = Event(project);
        await using var probe = await PublishedCommands.StartAsync(fx.RabbitMqConnectionString);

        var messageId = await fx.HandleAsync(e);
        await probe.WaitForCommandsAsync(c => c.EventId == e.EventId);
        await fx.PublishAsync(e, messageId);
        await Eventually.TrueAsync(() => Task.FromResult(fx.Consumed.Count(messageId) == 2), "Rules consumed the redelivered message");

        Assert.Single(await fx.RunsOfEventAsync(e.EventId));
        await fx.EverythingPublishedAsync(probe);
        Assert.Single(probe.Commands(), c => c.Command.EventId == e.EventId);
    }

    [Fact]
    public async Task Should_create_one_run_per_automation_when_the_event_comes_again_under_another_message_id()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("a"));
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("b"));
        var e = Event(project);
        await using var probe = await PublishedCommands.StartAsync(fx.RabbitMqConnectionString);

        await fx.HandleAsync(e);
        await fx.HandleAsync(e); // a new message id: the inbox lets it in, the (automation, event) key stops it
        await probe.WaitForCommandsAsync(c => c.EventId == e.EventId, 2);

        Assert.Equal(["a", "b"], (await fx.RunsOfEventAsync(e.EventId)).Select(r => r.AutomationName));
        await fx.EverythingPublishedAsync(probe);
        Assert.Equal(2, probe.Commands().Count(c => c.Command.EventId == e.EventId));
    }
}
