using Automations.Contracts;
using Automations.Persistence.Outbox;
using Automations.ServiceDefaults;
using Automations.Testing;
using Dapper;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Automations.Ingestion.Tests;

/// <summary>
/// The outbox's direct path: the writer publishes its committed row at once and the row is deleted in a batch; a row
/// the writer never published (it died right after its commit) is the relay's only once the grace has passed.
/// </summary>
public class Publishing_right_after_commit(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    public sealed class CountingConsumer : IConsumer<ArtifactEventReceived>
    {
        public static readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, int> Seen = new();
        public Task Consume(ConsumeContext<ArtifactEventReceived> context)
        {
            Seen.AddOrUpdate(context.MessageId!.Value, 1, (_, n) => n + 1);
            return Task.CompletedTask;
        }
    }

    private async Task<IHost> StartAsync(TimeSpan grace)
    {
        MassTransit.LogContext.Current = null;
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(env.ServiceConfiguration());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Outbox:Grace"] = grace.ToString() });
        builder.Services.AddSingleton(env.DataSource);
        builder.AddAutomationsBus(x => x.AddConsumer<CountingConsumer>());
        builder.Services.AddOutboxRelay("ingestion", o => o.PollInterval = TimeSpan.FromMilliseconds(200));
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    /// <summary>Writes one direct-path row in its own statement (as EventStore does) and returns its message.</summary>
    private async Task<(Guid Id, ArtifactEventReceived Message)> CommitRowAsync(OutboxPublisher publisher)
    {
        var id = Guid.CreateVersion7();
        var message = new ArtifactEventReceived(id, "p-" + id, "CREATE_ARTIFACT", "acme", "mnist", "c",
            null, null, null, null, null, DateTimeOffset.UtcNow, null, DateTimeOffset.UtcNow);
        var parameters = new DynamicParameters();
        OutboxWriter.AddParameters(parameters, "o_", typeof(ArtifactEventReceived), message, id);
        await using var c = await env.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync($"with src as (select 1) {publisher.InsertFrom("src", "o_")}", parameters);
        return (id, message);
    }

    private async Task<int> RowsAsync(Guid id)
    {
        await using var c = await env.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<int>("select count(*) from ingestion.outbox where message_id = @id", new { id });
    }

    /// <summary>Each copy the broker took of the row's message (an independent queue on the exchange), everything routed to it so far.</summary>
    private static async Task<int> PublishedCopiesAsync(MessageProbe probe, Guid id)
    {
        await probe.CatchUpAsync();
        return probe.Received.Count(d => d.MessageId == id);
    }

    [Fact]
    public async Task Should_publish_at_once_and_delete_the_row()
    {
        // A grace far longer than the test: only the direct path can have published the message.
        using var host = await StartAsync(TimeSpan.FromMinutes(10));
        await using var probe = await MessageProbe.StartAsync(env.RabbitMqConnectionString, nameof(ArtifactEventReceived));
        try
        {
            var publisher = host.Services.GetRequiredKeyedService<OutboxPublisher>("ingestion");
            var (id, message) = await CommitRowAsync(publisher);
            publisher.PublishCommitted(id, typeof(ArtifactEventReceived), message);

            await Eventually.TrueAsync(async () => CountingConsumer.Seen.ContainsKey(id) && await RowsAsync(id) == 0,
                "the message is published and its row deleted", TimeSpan.FromSeconds(20));
            // Either path publishes before it deletes: with the row gone, every copy there will be has been published.
            Assert.Equal(1, await PublishedCopiesAsync(probe, id));
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Should_leave_an_unpublished_row_to_the_relay_after_the_grace()
    {
        // A grace long enough that the relay's first passes surely fall inside it, even on a loaded machine.
        using var host = await StartAsync(TimeSpan.FromSeconds(10));
        await using var probe = await MessageProbe.StartAsync(env.RabbitMqConnectionString, nameof(ArtifactEventReceived));
        try
        {
            var publisher = host.Services.GetRequiredKeyedService<OutboxPublisher>("ingestion");
            // Committed, then the writer "dies": PublishCommitted is never called.
            var (id, _) = await CommitRowAsync(publisher);

            // A row for the relay alone, written after it: the relay takes rows in id order, so once it has published
            // this one it has looked at the direct-path row too, and left it while its grace runs.
            var relayed = Guid.CreateVersion7();
            await using (var c = await env.DataSource.OpenConnectionAsync())
            await using (var tx = await c.BeginTransactionAsync())
            {
                await OutboxWriter.AddAsync(c, tx, "ingestion", new ArtifactEventReceived(relayed, "p-" + relayed, "CREATE_ARTIFACT", "acme", "mnist", "c",
                    null, null, null, null, null, DateTimeOffset.UtcNow, null, DateTimeOffset.UtcNow), messageId: relayed);
                await tx.CommitAsync();
            }
            await probe.WaitForAsync(d => d.MessageId == relayed);
            Assert.Equal(1, await RowsAsync(id));
            Assert.Equal(0, await PublishedCopiesAsync(probe, id));

            await Eventually.TrueAsync(async () => CountingConsumer.Seen.ContainsKey(id) && await RowsAsync(id) == 0,
                "the relay publishes the row after the grace and deletes it", TimeSpan.FromSeconds(30));
            Assert.Equal(1, await PublishedCopiesAsync(probe, id));
        }
        finally
        {
            await host.StopAsync();
        }
    }
}
