namespace Automations.WebhookSender.Tests;

public class Counting_delivery_attempts(SenderFixture fx) : IClassFixture<SenderFixture>
{
    [Fact]
    public async Task Should_count_the_attempt_and_report_the_backlog_on_the_hosts_Automations_meter()
    {
        using var attempts = fx.Sender!.Metric<long>("automations.deliveries");
        using var backlog = fx.Sender.Metric<long>("automations.deliveries.backlog");
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
