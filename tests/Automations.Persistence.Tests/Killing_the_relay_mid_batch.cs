using Automations.Testing;

namespace Automations.Persistence.Tests;

/// <summary>
/// The relay publishes a batch, then dies before it deletes the rows (its transaction never commits). The next pass
/// publishes the same message ids again; the consumer's inbox absorbs them, so each effect happens once.
/// </summary>
public class Killing_the_relay_mid_batch(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    [Fact]
    public async Task Should_publish_the_batch_again_and_the_inbox_absorb_it()
    {
        var crashes = 0;
        var published = new List<Guid>();
        // Direct path off: every row goes through the relay.
        await using var host = await UnitHost.StartAsync(env, new Dictionary<string, string?> { ["Outbox:Direct"] = "false" }, w => w.Relay(o =>
        {
            o.PollInterval = TimeSpan.FromMilliseconds(200);
            o.AfterPublishBeforeDelete = ids =>
            {
                lock (published) published.AddRange(ids);
                return Interlocked.Increment(ref crashes) == 1
                    ? throw new InvalidOperationException("simulated crash after publish, before delete")
                    : Task.CompletedTask;
            };
        }));
        var ids = Enumerable.Range(0, 5).Select(_ => Guid.CreateVersion7()).ToList();
        // All in one commit's worth of time: the relay's first batch carries at least one of them.
        await Task.WhenAll(ids.Select((id, i) => i % 2 == 0 ? host.ProduceAsync(id) : host.ProduceInTransactionAsync(id)));

        await host.AssertExactlyOnceAsync(ids);
        Assert.True(Volatile.Read(ref crashes) >= 2, "the relay never crashed");
        lock (published)
        {
            var twice = published.GroupBy(id => id).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
            Assert.NotEmpty(twice);
            // Published twice, delivered twice, the second absorbed by the inbox.
            Assert.All(twice, id => Assert.Equal(1, host.Deliveries.Absorbed.GetValueOrDefault(id)));
        }
    }
}
