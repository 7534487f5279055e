using Automations.Contracts;
using Automations.Testing;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

public class Measuring_runs(RulesFixture fx) : IClassFixture<RulesFixture>
{
    [Fact]
    public async Task Should_count_runs_by_status_and_time_the_matching()
    {
        using var runs = fx.Rules.Metric<long>("automations.runs");
        using var matching = fx.Rules.Metric<double>("automations.rules.matching.duration");

        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateLaunchAutomationAsync(project, "retrain", 1, null, null);
        var e = Event(project);
        await fx.HandleAsync(e);
        var run = (await fx.RunsOfEventAsync(e.EventId)).Single();
        await fx.PublishAsync(new LaunchJobFailed(run.CommandId, run.Id, null, "no agent", DateTimeOffset.UtcNow));
        await Eventually.TrueAsync(async () => (await fx.RunAsync(run.Id)).Status == "Failed", "the run failed");
        await runs.WaitForMeasurementsAsync(2, TimeSpan.FromSeconds(30));

        // One event and one launch run on this host: exactly these.
        Assert.Equal(new[] { ("Pending", "launch", 1L), ("Failed", "launch", 1L) },
            runs.GetMeasurementSnapshot().Select(m => ((string)m.Tags["status"]!, (string)m.Tags["action_type"]!, m.Value)));
        var timed = Assert.Single(matching.GetMeasurementSnapshot());
        Assert.Equal(e.EventType, timed.Tags["event_type"]);
    }
}
