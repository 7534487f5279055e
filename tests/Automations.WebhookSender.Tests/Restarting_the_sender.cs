using Automations.Testing;

namespace Automations.WebhookSender.Tests;

public class StoppedSenderFixture : SenderFixture
{
    protected override bool StartSender => false;

    public override Dictionary<string, string?> ServiceConfiguration()
    {
        var config = base.ServiceConfiguration();
        config["Webhooks:RetrySchedule"] = "00:00:02,00:00:02,00:00:02";
        return config;
    }
}

/// <summary>The sender stops while deliveries wait for their next attempt; a new process resumes the schedule from PostgreSQL.</summary>
public class Restarting_the_sender(StoppedSenderFixture fx) : IClassFixture<StoppedSenderFixture>
{
    [Fact]
    public async Task Should_resume_the_schedule_with_nothing_lost_and_nothing_sent_twice()
    {
        var paths = Enumerable.Range(0, 3).Select(_ => "/restart/" + Guid.NewGuid().ToString("N")).ToList();
        var commands = new List<Contracts.SendWebhook>();
        foreach (var path in paths)
        {
            fx.Receiver.Respond(path, Receiver.FailFirst(2, 503));
            commands.Add(SenderFixture.Command(await fx.AddWebhookAsync(fx.Receiver.Url(path), secret: "s3cr3t")));
        }

        var first = await fx.StartSenderAsync();
        foreach (var c in commands) await fx.PublishAsync(c);
        await Eventually.TrueAsync(async () =>
        {
            foreach (var c in commands)
                if ((await fx.DeliveryAsync(c.CommandId))?.Attempts != 1) return false;
            return true;
        }, "every delivery made its first attempt");
        await first.DisposeAsync();

        // While no sender runs, the schedule comes due and nothing is sent.
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await fx.DataSource.OpenConnectionAsync();
            return await Dapper.SqlMapper.ExecuteScalarAsync<int>(c, "select count(*) from delivery.deliveries where command_id = any(@ids) and next_attempt_at <= now()",
                new { ids = commands.Select(x => x.CommandId).ToArray() }) == commands.Count;
        }, "every delivery's next attempt is due");
        Assert.All(paths, p => Assert.Single(fx.Receiver.On(p)));
        foreach (var c in commands) Assert.Equal("pending", (await fx.DeliveryAsync(c.CommandId))!.Status);

        await using var second = await fx.StartSenderAsync();
        foreach (var c in commands) await fx.WaitForStatusAsync(c.CommandId, "succeeded");
        // Over for good (no claim, nothing scheduled): what the receiver has is all it gets.
        foreach (var c in commands) Assert.True(await fx.SettledAsync(c.CommandId));
        for (var i = 0; i < paths.Count; i++)
        {
            var requests = fx.Receiver.On(paths[i]);
            var delivery = (await fx.DeliveryAsync(commands[i].CommandId))!;
            Assert.Equal(3, requests.Count);
            Assert.All(requests, r => Assert.Equal(delivery.Id.ToString(), r.Header("webhook-id")));
            Assert.Equal([1, 2, 3], (await fx.AttemptsAsync(delivery.Id)).Select(a => a.Number));
        }
    }
}
