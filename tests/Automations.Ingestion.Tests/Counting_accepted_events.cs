using System.Net;

namespace Automations.Ingestion.Tests;

public class Counting_accepted_events(IngestionFixture fx) : IClassFixture<IngestionFixture>
{
    [Fact]
    public async Task Should_count_the_event_on_the_hosts_Automations_meter()
    {
        using var accepted = fx.Ingestion.Metric<long>("automations.events.accepted");

        using var response = await fx.PostEventAsync(IngestionFixture.Event(Guid.NewGuid().ToString()), fx.ProducerKey);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        await accepted.WaitForMeasurementsAsync(1, TimeSpan.FromSeconds(30));
        var measurement = Assert.Single(accepted.GetMeasurementSnapshot());
        Assert.Equal(1, measurement.Value);
        Assert.Equal("http", measurement.Tags["source"]);
        Assert.Equal("CREATE_ARTIFACT", measurement.Tags["event_type"]);
    }
}
