using Automations.Ingestion.Amqp;
using Automations.Ingestion.Events;
using Automations.Persistence.Control;
using Automations.Persistence.Inbox;
using Automations.Persistence.Retention;
using Automations.Persistence.Writes;
using Automations.ServiceDefaults;

namespace Automations.Ingestion;

public static class Extensions
{
    public const string Schema = "ingestion";

    public static IHostApplicationBuilder AddIngestion(this IHostApplicationBuilder builder)
    {
        builder.Services.AddMemoryCache();
        builder.Services.AddApiKeyCache();
        builder.Services.AddSingleton<EventStore>();
        builder.Services.AddSingleton<IngestionMetrics>();
        builder.Services.Configure<AmqpIntakeOptions>(builder.Configuration.GetSection("Ingestion:Amqp"));
        builder.Services.AddSingleton<AmqpIntake>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AmqpIntake>());
        builder.Services.AddHealthChecks().AddCheck<AmqpIntakeHealthCheck>("amqp-intake", tags: [ServiceDefaults.Extensions.ReadyTag]);
        builder.AddAutomationsBus();
        builder.Services.AddWrites(Schema);
        builder.Services.AddRetention(Events, RejectedEvents, Inbox.Table(Schema));
        builder.Services.Configure<ProjectSummaryOptions>(builder.Configuration.GetSection("Ingestion:Projects"));
        builder.Services.AddHostedService<ProjectSummary>();
        return builder;
    }

    /// <summary>Accepted events by received_at (0002_partition_events.sql); the producer's dedupe key is unique per partition.</summary>
    public static readonly PartitionedTable Events = new($"{Schema}.events", "received_at", o => o.History)
    {
        PartitionDdl = "create unique index on {partition} (entity, event_id)",
    };

    /// <summary>Refused AMQP messages by received_at (0003_partition_rejected_events.sql), kept as long as the events.</summary>
    public static readonly PartitionedTable RejectedEvents = new($"{Schema}.rejected_events", "received_at", o => o.History);
}
