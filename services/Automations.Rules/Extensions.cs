using Automations.Contracts;
using Automations.Persistence.Inbox;
using Automations.Persistence.Retention;
using Automations.Persistence.Outbox;
using Automations.Persistence.Writes;
using Automations.Rules.Matching;
using Automations.Rules.RunEvents;
using Automations.Rules.Runs;
using Automations.ServiceDefaults;
using MassTransit;

namespace Automations.Rules;

public static class Extensions
{
    public const string Schema = "rules";

    /// <summary>
    /// Runs by their event's received_at (0004_partition_runs.sql). The dedupe key and the id are unique per partition;
    /// the fillfactor leaves room for the one update an outcome makes (a HOT update, no index entry). A run still Pending
    /// (its delivery retrying, its enqueue in flight) holds its partition, so its outcome finds it even when History is set
    /// shorter than the sender's retries (an Enqueued launch run waiting
    /// for an agent does not: its queue item is kept). No index serves that look (one on status would cost every outcome its
    /// HOT update): a partition is read when it comes due, and at each check while it is held, up to its first Pending run;
    /// not again under the drop's lock (outcomes find their run in every partition, so a locked scan would stall them all).
    /// A run is written into a partition past History only if its event waited in the broker longer than History.
    /// </summary>
    public static readonly PartitionedTable Runs = new($"{Schema}.runs", "received_at", o => o.History)
    {
        HeldWhile = "status = 'Pending'",
        RecheckUnderLock = false,
        PartitionDdl = "create unique index on {partition} (automation_id, event_id); create unique index on {partition} (id); alter table {partition} set (fillfactor = 80)",
    };

    public static IHostApplicationBuilder AddRules(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<RulesOptions>(builder.Configuration.GetSection("Rules"));
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<AutomationCache>();
        builder.Services.AddSingleton<RunMetrics>();
        builder.Services.AddSingleton<BatchedEventsGate>();
        builder.AddAutomationsBus(x =>
        {
            x.AddConsumer<ArtifactEventConsumer, ArtifactEventConsumerDefinition>();
            x.AddConsumer<RunOutcomeConsumer, RunOutcomeConsumerDefinition>();
            x.AddConsumer<RunEventConsumer, RunEventConsumerDefinition>();
            x.AddConsumer<AutomationsChangedConsumer, AutomationsChangedConsumerDefinition>();
        });
        // Commands of one commit (an event's, or a batch of events' committed together), and those committed while the
        // last publish waits for its confirm, travel together (one broker message, one dispatch in the sender). No idle
        // linger by default: the events arrive batched by Ingestion's, so a commit already carries what a linger would
        // gather (Outbox:IdleLinger sets one). Payloads count as the sender holds them (UTF-16) against Outbox:MaxBatchBytes.
        builder.Services.AddWrites(Schema, w => w.Batch<SendWebhook, SendWebhooks>(
            items => new SendWebhooks([.. items.Select(i => new SendWebhookItem(i.Item, i.Traceparent))]),
            BatchTiming.WhileBusy, command => (long)command.Payload.Length * sizeof(char), idleLinger: TimeSpan.Zero));
        builder.Services.AddRetention(Runs, Inbox.Table(Schema));
        builder.Services.AddHostedService<RunStatePruner>();
        return builder;
    }
}
