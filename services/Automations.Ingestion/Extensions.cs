using Automations.Contracts;
using Automations.Ingestion.Amqp;
using Automations.Ingestion.Events;
using Automations.Persistence.Control;
using Automations.Persistence.Inbox;
using Automations.Persistence.Outbox;
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
        // Events committed within the idle linger (10 ms; Outbox:IdleLinger) or while the last publish waits for its
        // confirm travel together (one broker message, one dispatch in Rules, and Rules commits them together and sends
        // their commands as one: this is the one linger on an event's way). Sizes count as Rules holds them (UTF-16)
        // against Outbox:MaxBatchBytes.
        builder.Services.AddWrites(Schema, w => w.Batch<ArtifactEventReceived, ArtifactEventsReceived>(
            items => new ArtifactEventsReceived([.. items.Select(i => new ArtifactEventItem(i.Item, i.Traceparent))]),
            BatchTiming.WhileBusy, HeldBytes, idleLinger: IdleLinger));
        builder.Services.AddRetention(Events, RejectedEvents, Inbox.Table(Schema));
        builder.Services.Configure<ProjectSummaryOptions>(builder.Configuration.GetSection("Ingestion:Projects"));
        builder.Services.AddHostedService<ProjectSummary>();
        return builder;
    }

    /// <summary>How long an event committed while none is in flight waits for others (docs/performance.md, "Events together").</summary>
    public static readonly TimeSpan IdleLinger = TimeSpan.FromMilliseconds(10);

    /// <summary>About what an event takes in Rules' memory while a batch of it waits there: its strings (two bytes a
    /// character) and a fixed share for the rest.</summary>
    public static long HeldBytes(ArtifactEventReceived e) =>
        256 + 2L * ((e.ProducerEventId?.Length ?? 0) + (e.EventType?.Length ?? 0) + (e.Entity?.Length ?? 0) + (e.Project?.Length ?? 0)
                    + (e.Collection?.Length ?? 0) + (e.VersionId?.Length ?? 0) + (e.Alias?.Length ?? 0) + (e.Tag?.Length ?? 0)
                    + (e.Author?.Length ?? 0) + (e.MetadataJson?.Length ?? 0));

    /// <summary>Accepted events by received_at (0002_partition_events.sql); the producer's dedupe key is unique per partition.</summary>
    public static readonly PartitionedTable Events = new($"{Schema}.events", "received_at", o => o.History)
    {
        PartitionDdl = "create unique index on {partition} (entity, event_id)",
    };

    /// <summary>Refused AMQP messages by received_at (0003_partition_rejected_events.sql), kept as long as the events.</summary>
    public static readonly PartitionedTable RejectedEvents = new($"{Schema}.rejected_events", "received_at", o => o.History);
}
