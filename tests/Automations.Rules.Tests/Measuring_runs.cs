using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Automations.Contracts;
using Automations.Testing;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

/// <summary>
/// A meter listener hears every host in the test process, and runs carry no tag of their own: a class that counts
/// what its own host emits runs alone, after the parallel classes (whose hosts are gone by then).
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MetricsCollection
{
    public const string Name = "metrics, alone";
}

[Collection(MetricsCollection.Name)]
public class Measuring_runs(RulesFixture fx) : IClassFixture<RulesFixture>
{
    [Fact]
    public async Task Should_count_runs_by_status_and_time_the_matching()
    {
        var counts = new ConcurrentDictionary<string, long>();
        var matchings = 0L;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == "Automations" && instrument.Name is "automations.runs" or "automations.rules.matching.duration")
                l.EnableMeasurementEvents(instrument);
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? status = null, action = null;
            foreach (var t in tags)
            {
                if (t.Key == "status") status = t.Value as string;
                if (t.Key == "action_type") action = t.Value as string;
            }
            if (action == "launch") counts.AddOrUpdate(status!, value, (_, n) => n + value);
        });
        listener.SetMeasurementEventCallback<double>((instrument, _, _, _) =>
        {
            if (instrument.Name == "automations.rules.matching.duration") Interlocked.Increment(ref matchings);
        });
        listener.Start();

        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateLaunchAutomationAsync(project, "retrain", 1, null, null);
        var e = Event(project);
        await fx.HandleAsync(e);
        var run = (await fx.RunsOfEventAsync(e.EventId)).Single();
        await fx.PublishAsync(new LaunchJobFailed(run.CommandId, run.Id, null, "no agent", DateTimeOffset.UtcNow));
        await Eventually.TrueAsync(async () => (await fx.RunAsync(run.Id)).Status == "Failed", "the run failed");
        await Eventually.TrueAsync(() => Task.FromResult(counts.GetValueOrDefault("Failed") >= 1), "the Failed run was counted");

        // Alone in the process, one event and one launch run: exactly these.
        Assert.Equal(1, counts.GetValueOrDefault("Pending"));
        Assert.Equal(1, counts.GetValueOrDefault("Failed"));
        Assert.Equal(1, Interlocked.Read(ref matchings));
    }
}
