using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Automations.WebhookSender.Tests;

/// <summary>Instruments come from the host's IMeterFactory: collectors on that factory hear this class's sender alone.</summary>
public class Counting_delivery_attempts(SenderFixture fx) : IClassFixture<SenderFixture>
{
    [Fact]
    public async Task Should_count_the_attempt_and_report_the_backlog_on_the_hosts_Automations_meter()
    {
        var meters = fx.Sender!.Services.GetRequiredService<IMeterFactory>();
        using var attempts = new MetricCollector<long>(meters, "Automations", "automations.deliveries");
        using var backlog = new MetricCollector<long>(meters, "Automations", "automations.deliveries.backlog");
        var path = "/hook/" + Guid.NewGuid().ToString("N");
        var command = SenderFixture.Command(await fx.AddWebhookAsync(fx.Receiver.Url(path)));

        await fx.PublishAsync(command);
        await fx.WaitForStatusAsync(command.CommandId, "succeeded");

        await attempts.WaitForMeasurementsAsync(1, TimeSpan.FromSeconds(30));
        var attempt = Assert.Single(attempts.GetMeasurementSnapshot());
        Assert.Equal(1, attempt.Value);
        Assert.Equal("Succeeded", attempt.Tags["outcome"]);
        backlog.RecordObservableInstruments();
        Assert.NotEmpty(backlog.GetMeasurementSnapshot());
    }
}
