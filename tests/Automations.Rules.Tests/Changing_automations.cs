using Automations.Rules.Matching;
using Automations.Testing;
using Microsoft.Extensions.DependencyInjection;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

public class Changing_automations(RulesFixture fx) : IClassFixture<RulesFixture>
{
    private static async Task WarmAsync(ServiceHost host, RulesFixture fx, string project)
    {
        var cache = host.Services.GetRequiredService<AutomationCache>();
        await using var c = await fx.DataSource.OpenConnectionAsync();
        await cache.GetAsync(c, null, "acme", project, CancellationToken.None);
        Assert.True(cache.IsCached("acme", project));
    }

    [Fact]
    public async Task Should_fire_an_automation_created_after_the_project_was_cached_from_the_next_event()
    {
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("old"));
        var first = Event(project);
        await fx.HandleAsync(first);
        Assert.Equal(["old"], (await fx.RunsOfEventAsync(first.EventId)).Select(r => r.AutomationName));

        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("new"));
        await fx.PublishAsync(new Automations.Contracts.AutomationsChanged("acme", project, null, DateTimeOffset.UtcNow));
        var cache = fx.Rules.Services.GetRequiredService<AutomationCache>();
        await Eventually.TrueAsync(() => Task.FromResult(!cache.IsCached("acme", project)), "the cached project was dropped");

        var next = Event(project);
        await fx.HandleAsync(next);
        Assert.Equal(["new", "old"], (await fx.RunsOfEventAsync(next.EventId)).Select(r => r.AutomationName));
    }

    [Fact]
    public async Task Should_keep_the_cached_automations_until_told_they_changed()
    {
        // The control for the tests around it: without AutomationsChanged, a cached project does not see a new row.
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("old"));
        await WarmAsync(fx.Rules, fx, project);
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("unannounced"));
        var e = Event(project);
        await fx.HandleAsync(e);
        Assert.Equal(["old"], (await fx.RunsOfEventAsync(e.EventId)).Select(r => r.AutomationName));
    }

    [Fact]
    public async Task Should_stop_a_disabled_or_deleted_automation_on_every_replica_from_the_next_event()
    {
        var consumedBySecond = new ConsumedMessages();
        await using var second = await fx.StartRulesAsync(consumedBySecond);
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("keep"));
        var disabled = await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("disable"));
        var deleted = await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("delete"));
        await WarmAsync(fx.Rules, fx, project);
        await WarmAsync(second, fx, project);

        await fx.ChangeAsync("update control.automations set enabled = false where id = @disabled; delete from control.automations where id = @deleted",
            new { disabled, deleted }, project);
        foreach (var host in new[] { fx.Rules, second })
        {
            var cache = host.Services.GetRequiredService<AutomationCache>();
            await Eventually.TrueAsync(() => Task.FromResult(!cache.IsCached("acme", project)), "every replica dropped the project");
        }

        // Both replicas compete on the event queue: whichever takes an event must not fire the removed automations.
        for (var i = 0; i < 8; i++)
        {
            var e = Event(project);
            await fx.HandleAsync(e);
            Assert.Equal(["keep"], (await fx.RunsOfEventAsync(e.EventId)).Select(r => r.AutomationName));
        }
    }
}
