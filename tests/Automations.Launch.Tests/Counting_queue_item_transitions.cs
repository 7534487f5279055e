using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Automations.Launch.Tests;

/// <summary>Instruments come from the host's IMeterFactory: a collector on that factory hears the enqueuer alone.</summary>
[Collection(LaunchCollection.Name)]
public class Counting_queue_item_transitions(LaunchFixture f)
{
    [Fact]
    public async Task Should_count_the_queued_item_on_the_hosts_Automations_meter()
    {
        using var items = new MetricCollector<long>(f.Enqueuer.Services.GetRequiredService<IMeterFactory>(), "Automations", "automations.launch.items");

        await f.EnqueueAsync(LaunchFixture.Command(await f.CreateJobAsync(), await f.CreateQueueAsync()));

        // The classes of this collection share the enqueuer, one at a time; its lease sweeper may count a leftover item too.
        await items.WaitForMeasurementsAsync(1, TimeSpan.FromSeconds(30));
        Assert.Contains(items.GetMeasurementSnapshot(), m => Equals(m.Tags["transition"], "queued") && m.Value == 1);
    }
}
