using Automations.Contracts;
using Automations.Testing;

namespace Automations.Persistence.Tests;

/// <summary>
/// The outbox's direct path: a committed unit's message is published at once and its row deleted in a batch (a grace
/// far longer than the test: only the direct path can have published it). Off, the relay publishes it, woken by NOTIFY.
/// </summary>
public class Publishing_right_after_commit(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Should_publish_at_once_and_delete_the_row(bool direct)
    {
        await using var host = await UnitHost.StartAsync(env, new Dictionary<string, string?>
        {
            ["Outbox:Grace"] = "00:10:00",
            ["Outbox:Direct"] = direct.ToString(),
        }, w => w.Relay(o => o.PollInterval = TimeSpan.FromMinutes(10)));
        await using var probe = await MessageProbe.StartAsync(env.RabbitMqConnectionString, nameof(ArtifactEventReceived));
        var ids = new[] { Guid.CreateVersion7(), Guid.CreateVersion7() };
        Assert.True(await host.ProduceAsync(ids[0]));
        await host.ProduceInTransactionAsync(ids[1]);

        // With the relay polling every ten minutes, only the direct path or a NOTIFY can have sent them this soon.
        await host.AssertExactlyOnceAsync(ids, TimeSpan.FromSeconds(30));
        // Either path publishes before it deletes: with the rows gone, every copy there will be has been published.
        await probe.CatchUpAsync();
        Assert.All(ids, id => Assert.Equal(1, probe.Received.Count(d => d.MessageId == id)));
    }
}
