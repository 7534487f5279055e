using Automations.Persistence.GroupCommit;
using Automations.Persistence.Outbox;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.Persistence.Writes;

/// <summary>Options of a schema's <see cref="Writes"/> beyond configuration.</summary>
public sealed class WritesBuilder
{
    internal List<Func<IServiceProvider, OutboxPublisher, IBatchPublisher>> Batches { get; } = [];
    internal Action<OutboxRelayOptions>? ConfigureRelay { get; private set; }

    /// <summary>
    /// Publishes committed <typeparamref name="TItem"/> messages together on the direct path, as one
    /// <typeparamref name="TBatch"/> made by <paramref name="combine"/> per `Outbox:BatchLinger` (at most `Outbox:MaxBatch`
    /// items); each stays a single <typeparamref name="TItem"/> in the outbox, which the relay publishes alone.
    /// </summary>
    public WritesBuilder Batch<TItem, TBatch>(Func<IReadOnlyList<TItem>, TBatch> combine)
        where TItem : class
        where TBatch : class =>
        Batch<TItem, TBatch>(items => combine([.. items.Select(i => i.Item)]), BatchTiming.Linger);

    /// <summary>
    /// Publishes committed <typeparamref name="TItem"/> messages together on the direct path as <paramref name="timing"/>
    /// says; <paramref name="combine"/> gets each with the trace context its row was written in, <paramref name="bytes"/>
    /// weighs an item against `Outbox:MaxBatchBytes` and <paramref name="idleLinger"/> is how long a message committed
    /// while none of its type is in flight waits for others unless `Outbox:IdleLinger` says (<see cref="BatchTiming.WhileBusy"/>
    /// only; 5 ms unless given).
    /// </summary>
    public WritesBuilder Batch<TItem, TBatch>(Func<IReadOnlyList<BatchItem<TItem>>, TBatch> combine, BatchTiming timing, Func<TItem, long>? bytes = null,
        TimeSpan? idleLinger = null)
        where TItem : class
        where TBatch : class
    {
        var linger = idleLinger ?? TimeSpan.FromMilliseconds(5);
        Batches.Add((sp, publisher) => new OutboxBatchPublisher<TItem, TBatch>(publisher, sp.GetRequiredService<IBus>(), combine, timing, bytes, linger,
            sp.GetRequiredService<IOptionsMonitor<OutboxBatchOptions>>(), publisher.Schema, sp.GetRequiredService<WritesMetrics>(),
            sp.GetRequiredService<ILogger<OutboxBatchPublisher<TItem, TBatch>>>()));
        return this;
    }

    /// <summary>Adjusts the relay (tests: a short poll interval, a hook between publish and delete).</summary>
    public WritesBuilder Relay(Action<OutboxRelayOptions> configure)
    {
        ConfigureRelay = configure;
        return this;
    }
}

public static class WritesExtensions
{
    /// <summary>
    /// The write unit of <paramref name="schema"/> (a <see cref="Writes"/> keyed by it), the relay of its outbox and the
    /// direct path. Options: `Outbox` (direct path, grace, batching) and `GroupCommit` sections.
    /// </summary>
    public static IServiceCollection AddWrites(this IServiceCollection services, string schema, Action<WritesBuilder>? configure = null)
    {
        var builder = new WritesBuilder();
        configure?.Invoke(builder);
        services.TryAddSingleton<WritesMetrics>();
        services.Configure<OutboxRelayOptions>(schema, o =>
        {
            o.Schema = schema;
            builder.ConfigureRelay?.Invoke(o);
        });
        services.AddOptions<OutboxPublisherOptions>(schema).BindConfiguration("Outbox");
        services.AddOptions<OutboxBatchOptions>(schema).BindConfiguration("Outbox");
        services.AddOptions<GroupCommitOptions>().BindConfiguration("GroupCommit");

        // Hosted services stop in reverse order: the batchers first (what they hold stays for the relay), then the
        // direct path (its last deletes), then the relay.
        services.AddSingleton<IHostedService>(sp => new OutboxRelay(
            sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<IBus>(), sp.GetRequiredService<IOptionsMonitor<OutboxRelayOptions>>(), schema,
            sp.GetRequiredService<WritesMetrics>(), sp.GetRequiredService<ILogger<OutboxRelay>>()));
        services.AddKeyedSingleton(schema, (sp, _) => new OutboxPublisher(
            sp.GetRequiredService<NpgsqlDataSource>(), sp.GetRequiredService<IBus>(), sp.GetRequiredService<IOptionsMonitor<OutboxPublisherOptions>>(), schema,
            sp.GetRequiredService<WritesMetrics>(), sp.GetRequiredService<ILogger<OutboxPublisher>>()));
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredKeyedService<OutboxPublisher>(schema));
        services.AddKeyedSingleton(schema, (sp, _) => new Batchers(
            builder.Batches.Select(make => make(sp, sp.GetRequiredKeyedService<OutboxPublisher>(schema))).ToList()));
        for (var i = 0; i < builder.Batches.Count; i++)
        {
            var index = i;
            services.AddSingleton<IHostedService>(sp => (IHostedService)sp.GetRequiredKeyedService<Batchers>(schema).All[index]);
        }
        services.AddKeyedSingleton(schema, (sp, _) => new Writes(schema, sp.GetRequiredService<NpgsqlDataSource>(),
            sp.GetRequiredKeyedService<OutboxPublisher>(schema), sp.GetRequiredKeyedService<Batchers>(schema).All,
            sp.GetRequiredService<IOptions<GroupCommitOptions>>().Value, sp.GetRequiredService<WritesMetrics>()));
        return services;
    }

    private sealed record Batchers(IReadOnlyList<IBatchPublisher> All);
}
