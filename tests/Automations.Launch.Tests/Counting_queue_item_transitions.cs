namespace Automations.Launch.Tests;

[Collection(LaunchCollection.Name)]
public class Counting_queue_item_transitions(LaunchFixture f)
{
    [Fact]
    public async Task Should_count_the_queued_item_on_the_hosts_Automations_meter()
    {
        using var items = f.Enqueuer.Metric<long>("automations.launch.items");

        await f.EnqueueAsync(LaunchFixture.Command(await f.CreateJobAsync(), await f.CreateQueueAsync()));

        // The classes of this collection share the enqueuer, one at a time; its lease sweeper may count a leftover item too.
        await items.WaitForMeasurementsAsync(1, TimeSpan.FromSeconds(30));
        Assert.Contains(items.GetMeasurementSnapshot(), m => Equals(m.Tags["transition"], "queued") && m.Value == 1);
    }
}
