using Automations.Contracts;
using Automations.Persistence.Outbox;
using Automations.Testing;
using Dapper;

namespace Automations.Persistence.Tests;

/// <summary>
/// A writer that dies right after its commit never publishes: its rows are the relay's once the grace has passed, and
/// each message has its effect once.
/// </summary>
public class Crashing_between_commit_and_publish(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    [Fact]
    public async Task Should_leave_the_rows_to_the_relay_after_the_grace_and_have_each_effect_once()
    {
        // A grace long enough that the relay's first passes surely fall inside it, even on a loaded machine.
        await using var host = await UnitHost.StartAsync(env, new Dictionary<string, string?> { ["Outbox:Grace"] = "00:00:10" });
        await using var probe = await MessageProbe.StartAsync(env.RabbitMqConnectionString, nameof(ArtifactEventReceived));
        host.Writes.AfterCommit = () => throw new InvalidOperationException("simulated crash after commit, before publish");
        var ids = Enumerable.Range(0, 6).Select(_ => Guid.CreateVersion7()).ToList();
        for (var i = 0; i < ids.Count; i++)
        {
            var crash = await Assert.ThrowsAsync<InvalidOperationException>(() => i % 2 == 0 ? host.ProduceAsync(ids[i]) : host.ProduceInTransactionAsync(ids[i]));
            Assert.Contains("simulated crash", crash.Message);
        }
        host.Writes.AfterCommit = null;

        // A row for the relay alone, written after them: the relay takes rows in id order, so once it has published this
        // one it has looked at the crashed writers' rows too, and left them while their grace runs.
        var relayed = Guid.CreateVersion7();
        await using (var c = await env.DataSource.OpenConnectionAsync())
        await using (var tx = await c.BeginTransactionAsync())
        {
            await c.ExecuteAsync("insert into ingestion.test_sources (id, note) values (@relayed, 'relay')", new { relayed }, tx);
            await OutboxWriter.AddAsync(c, tx, UnitHost.Schema, UnitHost.Event(relayed), relayed);
            await tx.CommitAsync();
        }
        await probe.WaitForAsync(d => d.MessageId == relayed, timeout: TimeSpan.FromSeconds(30));
        await probe.CatchUpAsync();
        Assert.DoesNotContain(probe.Received, d => d.MessageId is { } id && ids.Contains(id));
        foreach (var id in ids) Assert.Equal(1, await host.OutboxRowsAsync(id));

        await host.AssertExactlyOnceAsync([.. ids, relayed]);
        await probe.CatchUpAsync();
        foreach (var id in ids) Assert.Equal(1, probe.Received.Count(d => d.MessageId == id));
    }
}
