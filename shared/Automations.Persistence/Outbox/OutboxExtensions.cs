using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.Persistence.Outbox;

public static class OutboxExtensions
{
    /// <summary>
    /// Runs a relay for <paramref name="schema"/>'s outbox in this service, and its direct path: an
    /// <see cref="OutboxPublisher"/> keyed by the schema (options from the `Outbox` section).
    /// </summary>
    public static IServiceCollection AddOutboxRelay(this IServiceCollection services, string schema, Action<OutboxRelayOptions>? configure = null)
    {
        services.Configure<OutboxRelayOptions>(schema, o =>
        {
            o.Schema = schema;
            configure?.Invoke(o);
        });
        services.AddSingleton<IHostedService>(sp => new OutboxRelay(
            sp.GetRequiredService<NpgsqlDataSource>(),
            sp.GetRequiredService<MassTransit.IBus>(),
            sp.GetRequiredService<IOptionsMonitor<OutboxRelayOptions>>(),
            schema,
            sp.GetRequiredService<ILogger<OutboxRelay>>()));
        services.AddOptions<OutboxPublisherOptions>(schema).BindConfiguration("Outbox");
        services.AddKeyedSingleton(schema, (sp, _) => new OutboxPublisher(
            sp.GetRequiredService<NpgsqlDataSource>(),
            sp.GetRequiredService<MassTransit.IBus>(),
            sp.GetRequiredService<IOptionsMonitor<OutboxPublisherOptions>>(),
            schema,
            sp.GetRequiredService<ILogger<OutboxPublisher>>()));
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredKeyedService<OutboxPublisher>(schema));
        return services;
    }

    /// <summary>
    /// Publishes committed <typeparamref name="TItem"/> rows of <paramref name="schema"/>'s outbox together, as one
    /// <typeparamref name="TBatch"/> made by <paramref name="combine"/> (see <see cref="OutboxBatchPublisher{TItem, TBatch}"/>;
    /// options `Outbox:BatchLinger`, `Outbox:MaxBatch`). Call after <see cref="AddOutboxRelay"/>: it stops first.
    /// </summary>
    public static IServiceCollection AddOutboxBatch<TItem, TBatch>(this IServiceCollection services, string schema, Func<IReadOnlyList<TItem>, TBatch> combine)
        where TItem : class
        where TBatch : class
    {
        services.AddOptions<OutboxBatchOptions>(schema).BindConfiguration("Outbox");
        services.AddSingleton(sp => new OutboxBatchPublisher<TItem, TBatch>(
            sp.GetRequiredKeyedService<OutboxPublisher>(schema),
            sp.GetRequiredService<MassTransit.IBus>(),
            combine,
            sp.GetRequiredService<IOptionsMonitor<OutboxBatchOptions>>(),
            schema,
            sp.GetRequiredService<ILogger<OutboxBatchPublisher<TItem, TBatch>>>()));
        services.AddSingleton<IHostedService>(sp => sp.GetRequiredService<OutboxBatchPublisher<TItem, TBatch>>());
        return services;
    }
}
