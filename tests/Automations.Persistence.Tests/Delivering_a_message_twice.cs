using Automations.Contracts;
using Automations.Testing;
using Dapper;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;

namespace Automations.Persistence.Tests;

/// <summary>The inbox guard: a message handled before has no second effect, and the unit says it was a duplicate.</summary>
public class Delivering_a_message_twice(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    [Fact]
    public async Task Should_have_one_effect_when_the_broker_delivers_it_twice()
    {
        await using var host = await UnitHost.StartAsync(env);
        var id = Guid.CreateVersion7();
        await using (var c = await env.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync("insert into ingestion.test_sources (id, note) values (@id, 'bus')", new { id });
        var bus = host.Services.GetRequiredService<IBus>();
        await bus.Publish(UnitHost.Event(id), ctx => ctx.MessageId = id);
        await Eventually.TrueAsync(() => Task.FromResult(host.Deliveries.Seen.GetValueOrDefault(id) == 1), "the first delivery is handled");
        await bus.Publish(UnitHost.Event(id), ctx => ctx.MessageId = id);
        await Eventually.TrueAsync(() => Task.FromResult(host.Deliveries.Absorbed.GetValueOrDefault(id) == 1), "the second delivery is absorbed");

        await host.AssertExactlyOnceAsync([id]);
        Assert.Equal(2, host.Deliveries.Seen[id]);
    }

    [Fact]
    public async Task Should_run_nothing_and_publish_nothing_for_a_duplicate_unit()
    {
        await using var host = await UnitHost.StartAsync(env);
        var messageId = Guid.CreateVersion7();
        var effects = new List<Guid>();
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var id = Guid.CreateVersion7();
            effects.Add(id);
            var w = host.Writes.Begin();
            var inbox = w.Inbox("test-twice", messageId);
            var source = w.Execute($"insert into ingestion.test_sources (id, note) select @id, 'twice' where exists (select from {inbox}) returning id", new { id });
            w.Publish(UnitHost.Event(id), messageId: id);
            var result = await w.CommitAsync();
            Assert.Equal(attempt == 1, result.Duplicate);
            Assert.Equal(attempt == 1 ? 0 : 1, result.Count(source));
        }
        await host.AssertExactlyOnceAsync([effects[0]]);
        await using var connection = await env.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("select count(*) from ingestion.test_sources where id = @id", new { id = effects[1] }));
        Assert.Equal(0, await host.OutboxRowsAsync(effects[1]));
        Assert.False(host.Deliveries.Seen.ContainsKey(effects[1]));
    }

    [Fact]
    public async Task Should_answer_false_to_a_transaction_unit_that_saw_it_before()
    {
        await using var host = await UnitHost.StartAsync(env);
        var messageId = Guid.CreateVersion7();
        for (var attempt = 0; attempt < 2; attempt++)
        {
            await using var w = await host.Writes.BeginTransactionAsync();
            var handled = await w.InboxAsync("test-twice-tx", messageId);
            Assert.Equal(attempt == 0, handled);
            if (handled) await w.CommitAsync();
        }
        await using var connection = await env.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("select count(*) from ingestion.inbox where consumer = 'test-twice-tx' and message_id = @messageId", new { messageId }));
    }
}
