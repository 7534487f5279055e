using System.Collections.Concurrent;
using Automations.Contracts;
using Automations.Persistence.Writes;
using Automations.ServiceDefaults;
using Automations.Testing;
using Dapper;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace Automations.Persistence.Tests;

using Writes = Automations.Persistence.Writes.Writes;

/// <summary>What the consumer of a host saw: every delivery by message id, and those its inbox absorbed.</summary>
public sealed class Deliveries
{
    public ConcurrentDictionary<Guid, int> Seen { get; } = new();
    public ConcurrentDictionary<Guid, int> Absorbed { get; } = new();
}

/// <summary>
/// The consumer side of the suite: its effect (a row in ingestion.test_effects per event) written through the unit
/// with its inbox, so a message delivered twice has one effect and the second is seen as a duplicate.
/// </summary>
public sealed class EffectConsumer([FromKeyedServices(UnitHost.Schema)] Writes writes, Deliveries deliveries) : IConsumer<ArtifactEventReceived>
{
    public const string Name = "test-effects";

    public async Task Consume(ConsumeContext<ArtifactEventReceived> context)
    {
        var messageId = context.MessageId!.Value;
        deliveries.Seen.AddOrUpdate(messageId, 1, (_, n) => n + 1);
        var w = writes.Begin();
        var inbox = w.Inbox(Name, messageId);
        w.Execute($"insert into ingestion.test_effects (event_id) select @EventId where exists (select from {inbox}) returning 1", new { context.Message.EventId });
        if ((await w.CommitAsync(context.CancellationToken)).Duplicate) deliveries.Absorbed.AddOrUpdate(messageId, 1, (_, n) => n + 1);
    }
}

/// <summary>
/// A host with the write unit of the ingestion schema, its relay and direct path, and a bus whose consumer has an effect
/// per message; the producer side writes a row in ingestion.test_sources and publishes the event for it in one unit.
/// </summary>
public sealed class UnitHost(IHost host, TestEnvironment env) : IAsyncDisposable
{
    public const string Schema = "ingestion";

    public IServiceProvider Services => host.Services;
    public Writes Writes => host.Services.GetRequiredKeyedService<Writes>(Schema);
    public Deliveries Deliveries => host.Services.GetRequiredService<Deliveries>();

    public static async Task CreateTablesAsync(TestEnvironment env)
    {
        await using var c = await env.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync(
            """
            create table if not exists ingestion.test_sources (id uuid primary key, note text not null);
            create table if not exists ingestion.test_effects (event_id uuid not null);
            """);
    }

    public static async Task<UnitHost> StartAsync(TestEnvironment env, IDictionary<string, string?>? configuration = null,
        Action<WritesBuilder>? writes = null, string? rabbitMq = null)
    {
        await CreateTablesAsync(env);
        MassTransit.LogContext.Current = null;
        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(env.ServiceConfiguration());
        if (rabbitMq is not null) builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:RabbitMq"] = rabbitMq });
        if (configuration is not null) builder.Configuration.AddInMemoryCollection(configuration);
        builder.Services.AddSingleton(env.DataSource);
        builder.Services.AddSingleton<Deliveries>();
        builder.AddAutomationsBus(x => x.AddConsumer<EffectConsumer>());
        builder.Services.AddWrites(Schema, w =>
        {
            w.Relay(o => o.PollInterval = TimeSpan.FromMilliseconds(200));
            writes?.Invoke(w);
        });
        var host = builder.Build();
        await host.StartAsync();
        return new UnitHost(host, env);
    }

    public static ArtifactEventReceived Event(Guid id) =>
        new(id, "p-" + id, "CREATE_ARTIFACT", "acme", "mnist", "c", null, null, null, null, null, DateTimeOffset.UtcNow, null, DateTimeOffset.UtcNow);

    /// <summary>The producer's one-statement unit: its source row, and the event published when the row is new (true).</summary>
    public async Task<bool> ProduceAsync(Guid id, string? note = "ok")
    {
        var w = Writes.Begin();
        var source = w.Execute("insert into ingestion.test_sources (id, note) values (@id, @note) on conflict do nothing returning id", new { id, note });
        w.Publish(Event(id), when: source, messageId: id);
        return (await w.CommitAsync()).Count(source) == 1;
    }

    /// <summary>The producer's transaction unit: the same row and event, with a read in between.</summary>
    public async Task ProduceInTransactionAsync(Guid id)
    {
        await using var w = await Writes.BeginTransactionAsync();
        var exists = await w.Connection.ExecuteScalarAsync<bool>("select exists (select from ingestion.test_sources where id = @id)", new { id }, w.Transaction);
        Assert.False(exists);
        await w.Connection.ExecuteAsync("insert into ingestion.test_sources (id, note) values (@id, 'tx')", new { id }, w.Transaction);
        w.Publish(Event(id), messageId: id);
        await w.CommitAsync();
    }

    /// <summary>
    /// Waits until every id has its effect and the outbox is empty, then checks each effect happened exactly once: one
    /// source row, one effect row, one inbox row, and every delivery past the first absorbed by the inbox.
    /// </summary>
    public async Task AssertExactlyOnceAsync(IReadOnlyCollection<Guid> ids, TimeSpan? timeout = null)
    {
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await env.DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<int>("select count(distinct event_id) from ingestion.test_effects where event_id = any(@ids)", new { ids = ids.ToArray() }) == ids.Count
                && await c.ExecuteScalarAsync<int>("select count(*) from ingestion.outbox where message_id = any(@ids)", new { ids = ids.ToArray() }) == 0;
        }, "every message has its effect and the outbox is empty", timeout ?? TimeSpan.FromSeconds(60));
        await using var connection = await env.DataSource.OpenConnectionAsync();
        var array = ids.ToArray();
        Assert.Equal(ids.Count, await connection.ExecuteScalarAsync<int>("select count(*) from ingestion.test_sources where id = any(@array)", new { array }));
        Assert.Equal(ids.Count, await connection.ExecuteScalarAsync<int>("select count(*) from ingestion.test_effects where event_id = any(@array)", new { array }));
        Assert.Equal(ids.Count, await connection.ExecuteScalarAsync<int>(
            "select count(*) from ingestion.inbox where consumer = @Name and message_id = any(@array)", new { EffectConsumer.Name, array }));
        foreach (var id in ids)
        {
            Assert.True(Deliveries.Seen.TryGetValue(id, out var seen), $"{id} was never delivered");
            Assert.Equal(seen - 1, Deliveries.Absorbed.GetValueOrDefault(id));
        }
    }

    public async Task<int> OutboxRowsAsync(Guid id)
    {
        await using var c = await env.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<int>("select count(*) from ingestion.outbox where message_id = @id", new { id });
    }

    public async ValueTask DisposeAsync()
    {
        try { await host.StopAsync(); }
        finally { host.Dispose(); }
    }
}
