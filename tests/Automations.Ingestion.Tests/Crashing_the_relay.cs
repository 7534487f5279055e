using Automations.Contracts;
using Automations.Persistence.Inbox;
using Automations.Persistence.Outbox;
using Automations.ServiceDefaults;
using Automations.Testing;
using Dapper;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Automations.Ingestion.Tests;

/// <summary>
/// The relay publishes a batch, then dies before it deletes the rows (the transaction never commits). The next relay
/// publishes the same message ids again; a consumer guarded by the inbox has exactly one effect.
/// </summary>
public class Crashing_the_relay(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    public sealed class EffectConsumer(NpgsqlDataSource dataSource) : IConsumer<ArtifactEventReceived>
    {
        public static int Deliveries;

        public async Task Consume(ConsumeContext<ArtifactEventReceived> context)
        {
            Interlocked.Increment(ref Deliveries);
            await using var connection = await dataSource.OpenConnectionAsync();
            await using var tx = await connection.BeginTransactionAsync();
            if (await Inbox.TryBeginAsync(connection, tx, "ingestion", nameof(EffectConsumer), context.MessageId!.Value))
                await connection.ExecuteAsync("insert into ingestion.test_effects (event_id) values (@e)", new { e = context.Message.EventId }, tx);
            await tx.CommitAsync();
        }
    }

    [Fact]
    public async Task Should_publish_at_most_a_duplicate_that_the_inbox_absorbs()
    {
        await using (var c = await env.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync("create table ingestion.test_effects (event_id uuid not null)");

        var crashes = 0;
        MassTransit.LogContext.Current = null;
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(env.ServiceConfiguration());
        builder.Services.AddSingleton(env.DataSource);
        builder.AddAutomationsBus(x => x.AddConsumer<EffectConsumer>());
        builder.Services.AddOutboxRelay("ingestion", o =>
        {
            o.PollInterval = TimeSpan.FromMilliseconds(200);
            o.AfterPublishBeforeDelete = _ => Interlocked.Increment(ref crashes) == 1
                ? throw new InvalidOperationException("simulated crash after publish, before delete")
                : Task.CompletedTask;
        });
        using var host = builder.Build();
        await host.StartAsync();
        try
        {
            var eventId = Guid.NewGuid();
            await using (var c = await env.DataSource.OpenConnectionAsync())
            await using (var tx = await c.BeginTransactionAsync())
            {
                await OutboxWriter.AddAsync(c, tx, "ingestion", new ArtifactEventReceived(eventId, "p1", "CREATE_ARTIFACT", "acme", "mnist", "c",
                    null, null, null, null, null, DateTimeOffset.UtcNow, null, DateTimeOffset.UtcNow), messageId: eventId);
                await tx.CommitAsync();
            }

            await Eventually.TrueAsync(async () =>
            {
                await using var c = await env.DataSource.OpenConnectionAsync();
                return Volatile.Read(ref EffectConsumer.Deliveries) >= 2 && await c.ExecuteScalarAsync<int>("select count(*) from ingestion.outbox") == 0;
            }, "the message was published twice and the outbox is empty");
            // The relay counts every publish in its hook before it deletes: with the outbox empty, `crashes` is final.

            await using var connection = await env.DataSource.OpenConnectionAsync();
            Assert.Equal(2, crashes);
            Assert.Equal(2, Volatile.Read(ref EffectConsumer.Deliveries));
            Assert.Equal(1, await connection.ExecuteScalarAsync<int>("select count(*) from ingestion.test_effects where event_id = @eventId", new { eventId }));
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
