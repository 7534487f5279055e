using Automations.Contracts;
using Automations.Persistence.Outbox;
using Automations.Testing;
using Dapper;
using Npgsql;

namespace Automations.Persistence.Tests;

/// <summary>
/// A commit group (Writes.Group): the units of its members go in one group commit, a transaction of their own, and
/// their messages leave in one publish; a member that leaves without a unit holds nobody back, and a unit that fails
/// fails alone.
/// </summary>
public class Committing_units_together(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    private Task<UnitHost> StartAsync() => UnitHost.StartAsync(env,
        // No idle linger: what travels together here is what one commit made.
        new Dictionary<string, string?> { ["Outbox:IdleLinger"] = "00:00:00" },
        w => w.Batch<ArtifactEventReceived, ArtifactEventsReceived>(
            items => new ArtifactEventsReceived([.. items.Select(i => new ArtifactEventItem(i.Item, i.Traceparent))]), BatchTiming.WhileBusy));

    private static (Automations.Persistence.Writes.WriteUnit Unit, Guid Id) Unit(UnitHost host, string? note = "together")
    {
        var id = Guid.CreateVersion7();
        var w = host.Writes.Begin();
        var source = w.Execute("insert into ingestion.test_sources (id, note) values (@id, @note) returning id", new { id, note });
        w.Publish(UnitHost.Event(id), when: source, messageId: id);
        return (w, id);
    }

    private async Task<long> TransactionsAsync(Guid[] ids)
    {
        await using var c = await env.DataSource.OpenConnectionAsync();
        // Rows written by one transaction share its id (xmin).
        return await c.ExecuteScalarAsync<long>("select count(distinct xmin::text) from ingestion.test_sources where id = any(@ids)", new { ids });
    }

    [Fact]
    public async Task Should_commit_the_members_units_in_one_transaction_and_publish_their_messages_in_one_message()
    {
        await using var host = await StartAsync();
        await using var probe = await PublishedEvents.StartAsync(env.RabbitMqConnectionString);

        // Eight members at once: six commit a unit, two leave without one.
        var group = host.Writes.Group(8);
        var units = Enumerable.Range(0, 6).Select(_ => Unit(host)).ToList();
        var commits = units.Select(async u =>
        {
            using var member = group.Join();
            await Task.Yield();
            return await member.CommitAsync(u.Unit);
        }).ToList();
        var leaving = Enumerable.Range(0, 2).Select(async _ =>
        {
            using var member = group.Join();
            await Task.Yield();
        }).ToList();
        await Task.WhenAll(leaving);
        var results = await Task.WhenAll(commits).WaitAsync(TimeSpan.FromSeconds(30));

        var ids = units.Select(u => u.Id).ToArray();
        Assert.All(results, r => Assert.False(r.Duplicate));
        Assert.Equal(1, await TransactionsAsync(ids));
        var events = await probe.WaitForEventsAsync(e => ids.Contains(e.EventId), 6);
        Assert.Equal(ids.Order(), events.Select(e => e.Event.EventId).Order());
        Assert.Single(probe.Received, d => PublishedEvents.Of(d).Any(e => ids.Contains(e.Event.EventId)));
        Assert.All(events, e => Assert.True(e.InBatch));
    }

    [Fact]
    public async Task Should_fail_only_the_member_whose_unit_fails()
    {
        await using var host = await StartAsync();
        var group = host.Writes.Group(3);
        var good = new[] { Unit(host), Unit(host) };
        var bad = Unit(host, note: null); // test_sources.note is not null

        var tasks = good.Append(bad).Select(async u =>
        {
            using var member = group.Join();
            await Task.Yield();
            return await member.CommitAsync(u.Unit);
        }).ToList();

        await Assert.ThrowsAsync<PostgresException>(() => tasks[2]);
        await Task.WhenAll(tasks.Take(2));
        await using var c = await env.DataSource.OpenConnectionAsync();
        Assert.Equal(2, await c.ExecuteScalarAsync<long>("select count(*) from ingestion.test_sources where id = any(@ids)",
            new { ids = good.Select(u => u.Id).Append(bad.Id).ToArray() }));
    }

    [Fact]
    public void Should_refuse_more_members_than_it_was_made_for()
    {
        var group = new Automations.Persistence.Writes.CommitGroup(null!, 1, default);
        using var member = group.Join();
        Assert.Throws<InvalidOperationException>(() => group.Join());
    }
}
