using Automations.Contracts;
using Automations.Rules.Runs;
using Automations.Testing;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

/// <summary>
/// The events of ArtifactEventsReceived batches are handled at most Rules:MaxBatchedEventsAtOnce at once, across the
/// batches in hand: a prefetch of batches cannot put thousands of events' work in memory at once.
/// </summary>
public class Bounding_the_events_in_hand(StoppedRulesFixture fx) : IClassFixture<StoppedRulesFixture>
{
    [Fact]
    public async Task Should_handle_every_event_of_several_batches_with_at_most_the_bound_at_once()
    {
        var config = fx.ServiceConfiguration();
        config["Rules:MaxBatchedEventsAtOnce"] = "2";
        await using var rules = await ServiceHost.StartAsync(Program.Build, config);
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("a"));
        var batches = Enumerable.Range(0, 3).Select(_ => Enumerable.Range(0, 10).Select(_ => new ArtifactEventItem(Event(project), null)).ToList()).ToList();

        await Task.WhenAll(batches.Select(b => fx.PublishAsync(new ArtifactEventsReceived(b), via: rules)));
        var ids = batches.SelectMany(b => b).Select(i => i.Event.EventId).ToArray();
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await fx.DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<int>(
                "select count(*) from rules.runs where event_id = any(@ids)", new { ids }) == ids.Length;
        }, "every event of the batches fired its automation");

        var peak = rules.Services.GetRequiredService<BatchedEventsGate>().Peak;
        Assert.InRange(peak, 1, 2);
    }
}
