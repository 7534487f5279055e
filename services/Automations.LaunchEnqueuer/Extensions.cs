using Automations.LaunchEnqueuer.Agent;
using Automations.LaunchEnqueuer.Enqueue;
using Automations.LaunchEnqueuer.Leases;
using Automations.Persistence.Control;
using Automations.Persistence.Inbox;
using Automations.Persistence.Retention;
using Automations.Persistence.Writes;
using Automations.ServiceDefaults;
using MassTransit;

namespace Automations.LaunchEnqueuer;

public static class Extensions
{
    public const string Schema = "launch";

    public static IHostApplicationBuilder AddLaunchEnqueuer(this IHostApplicationBuilder builder)
    {
        builder.Services.AddMemoryCache();
        builder.Services.AddApiKeyCache();
        builder.Services.Configure<LaunchOptions>(builder.Configuration.GetSection("Launch"));
        builder.Services.AddSingleton<LaunchMetrics>();
        builder.Services.AddSingleton<QueueItemStore>();
        builder.Services.AddSingleton<QueueSignals>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<QueueSignals>());
        builder.Services.AddHostedService<LeaseSweeper>();
        builder.AddAutomationsBus(x => x.AddConsumer<EnqueueLaunchJobConsumer, EnqueueLaunchJobConsumerDefinition>());
        builder.Services.AddWrites(Schema);
        builder.Services.AddRetention(QueueItems, Inbox.Table(Schema));
        return builder;
    }

    /// <summary>
    /// Queue items by the time they ended (0004_partition_queue_items.sql): items in progress share a partition of their
    /// own, and those of the table as it was before partitioning hold its partition until they end.
    /// </summary>
    public static readonly PartitionedTable QueueItems = new($"{Schema}.queue_items", "retain_from", o => o.History)
    {
        PartitionDdl = "create unique index on {partition} (command_id); create unique index on {partition} (id)",
        HeldWhile = "state in ('queued', 'claimed', 'running')",
    };
}
