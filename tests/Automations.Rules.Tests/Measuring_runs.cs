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

    /// <summary>A no-op run is Finished when it is recorded, for a run event as for an artifact event.</summary>
    [Fact]
    public async Task Should_count_a_no_op_run_of_a_run_event_as_finished()
    {
        using var runs = fx.Rules.Metric<long>("automations.runs");
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        var automation = Guid.CreateVersion7();
        await fx.ChangeAsync(
            """
            insert into control.automations (id, entity_id, project, name, event_type, action_type, run_filter)
            values (@automation, @AcmeId, @project, 'try-crashed', 'RUN_STATE', 'no_op', '{"state":"crashed"}')
            """, new { automation, fx.AcmeId, project }, project);

        var messageId = Guid.CreateVersion7();
        var e = new RunEventReceived(Guid.CreateVersion7(), "s-1", RunEventTypes.RunState, "acme", project, "run-1", "glad-sky-7", "jane", null, "crashed",
            null, null, DateTimeOffset.UtcNow, DateTimeOffset.UtcNow);
        await fx.PublishAsync(e, messageId);
        await Eventually.TrueAsync(async () => (await fx.RunsOfEventAsync(e.EventId)).Count == 1, "the no-op run is recorded");
        await runs.WaitForMeasurementsAsync(1, TimeSpan.FromSeconds(30));

        Assert.Equal(new[] { ("Finished", "no_op", 1L) },
            runs.GetMeasurementSnapshot().Select(m => ((string)m.Tags["status"]!, (string)m.Tags["action_type"]!, m.Value)));
        Assert.Equal("Finished", (await fx.RunsOfEventAsync(e.EventId)).Single().Status);
    }
}
