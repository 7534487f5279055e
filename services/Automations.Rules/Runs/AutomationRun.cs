using Automations.Contracts;
using Automations.Core;
using Automations.Core.Templates;
using Automations.Persistence.Control;

namespace Automations.Rules.Runs;

/// <summary>The event an automation fires on, artifact or run event alike, as its run records it.</summary>
public sealed record FiringEvent(Guid EventId, string ProducerEventId, string EventType, string Entity, string Project, DateTimeOffset OccurredAt,
    DateTimeOffset ReceivedAt, string Json)
{
    /// <summary>
    /// The run's partition key: the event's, so a redelivered event meets its first run in the same partition (whose
    /// unique (automation_id, event_id) stops it). A message without it (published before the field existed) uses now.
    /// </summary>
    public DateTimeOffset PartitionKey => ReceivedAt == default ? DateTimeOffset.UtcNow : ReceivedAt;
}

/// <summary>
/// One automation's run for one event, for artifact and run events alike: what its action does (a webhook or a
/// notification to send, a Launch job to queue, or for a no-op nothing), the rules.runs row that records it
/// (<see cref="Row"/>, inserted by <see cref="Insert"/>), and the command published when that row is new.
/// </summary>
public sealed class AutomationRun
{
    /// <summary>The rules.runs row; its properties are the parameters of <see cref="Insert"/>.</summary>
    public sealed record RunRow(Guid Id, Guid AutomationId, string AutomationName, string Entity, string Project, Guid EventId, string ProducerEventId,
        string EventType, string Event, string ActionType, Guid? WebhookId, Guid? JobId, int? JobVersion, Guid? QueueId, string? TargetProject,
        Guid CommandId, string? Payload, string Status, string? Reason, DateTimeOffset ReceivedAt);

    private AutomationRun(RunRow row, object? command)
    {
        Row = row;
        Command = command;
    }

    public RunRow Row { get; }

    /// <summary><see cref="SendWebhook"/>, <see cref="EnqueueLaunchJob"/>, or null for a no-op (nothing leaves Rules).</summary>
    public object? Command { get; }

    public Guid CommandId => Row.CommandId;

    /// <summary>Pending until its worker reports, or Finished at once for a no-op.</summary>
    public string Status => Row.Status;

    /// <summary>
    /// The insert of <see cref="Row"/>, only once per automation and event (a row returned means it is new);
    /// <paramref name="guard"/> is what must also hold, e.g. <c>where exists (select from {inbox})</c>.
    /// </summary>
    public static string Insert(string guard = "") =>
        $"""
        insert into rules.runs (id, automation_id, automation_name, entity, project, event_id, producer_event_id, event_type, event,
                                action_type, webhook_id, job_id, job_version, queue_id, target_project, command_id, payload, status, reason,
                                finished_at, received_at)
        select @Id, @AutomationId, @AutomationName, @Entity, @Project, @EventId, @ProducerEventId, @EventType, @Event::jsonb,
               @ActionType, @WebhookId::uuid, @JobId::uuid, @JobVersion::int, @QueueId::uuid, @TargetProject::text, @CommandId, @Payload::text,
               @Status, @Reason::text, case when @Status = 'Finished' then now() end, @ReceivedAt
        {guard}
        on conflict do nothing
        returning 1
        """;

    /// <param name="latestJobVersion">The newest version of a launch job, for a launch automation that names none.</param>
    public static async Task<AutomationRun> CreateAsync(AutomationRow a, FiringEvent e, Func<string, string?> variables,
        Func<Guid, CancellationToken, Task<int?>> latestJobVersion, CancellationToken ct)
    {
        // The run's id carries its partition key's millisecond: an outcome, which names only the run, finds its partition
        // from the id (PartitionOf) instead of probing every partition the retention keeps.
        var partitionKey = e.PartitionKey;
        var runId = Guid.CreateVersion7(partitionKey);
        var commandId = Guid.CreateVersion7();
        string? payload;
        int? jobVersion = a.JobVersion;
        object? command;
        var status = RunStatus.Pending;
        string? reason = null;
        if (a.ActionType == ActionTypes.NoOp)
        {
            // W&B's DoNothing: the run is the whole effect, so a trigger can be tried without sending anything.
            payload = null;
            command = null;
            status = RunStatus.Finished;
            reason = "no-op: the automation matched; nothing was sent";
        }
        else if (a.ActionType is ActionTypes.Webhook or ActionTypes.Notification)
        {
            // A notification is a webhook to its integration whose payload template the Api made from title, text and
            // severity (NotificationMessage): rendered, delivered, retried and redelivered as one.
            var webhookId = a.WebhookId ?? throw new InvalidOperationException($"Automation {a.Id} is a {a.ActionType} automation without a webhook");
            payload = ActionRendering.WebhookPayload(a.Payload, variables);
            command = new SendWebhook(commandId, runId, e.EventId, a.Id, e.Entity, e.Project, webhookId, payload, e.OccurredAt, SendWebhook.SealedPayload);
        }
        else
        {
            var jobId = a.JobId ?? throw new InvalidOperationException($"Automation {a.Id} is a launch automation without a job");
            var queueId = a.QueueId ?? throw new InvalidOperationException($"Automation {a.Id} is a launch automation without a queue");
            jobVersion ??= await latestJobVersion(jobId, ct) ?? throw new InvalidOperationException($"Launch job {jobId} of automation {a.Id} has no version");
            payload = ActionRendering.LaunchOverrides(a.OverridesJson, variables);
            command = new EnqueueLaunchJob(commandId, runId, e.EventId, a.Id, e.Entity, e.Project, jobId, jobVersion.Value, queueId,
                a.TargetProject, payload, e.Json, e.OccurredAt);
        }
        var row = new RunRow(runId, a.Id, a.Name, e.Entity, e.Project, e.EventId, e.ProducerEventId, e.EventType, e.Json, a.ActionType,
            a.WebhookId, a.JobId, jobVersion, a.QueueId, a.TargetProject, commandId, payload, status, reason, partitionKey);
        return new AutomationRun(row, command);
    }

    /// <summary>
    /// The received_at range the runs of these ids were written with: a run's id is a UUIDv7 made from its partition key
    /// (<see cref="CreateAsync"/>), so its key lies within the millisecond in the id. Runs made before ids carried it
    /// fall outside (their callers look again without the range when a run was not found in it); an id that is not
    /// version 7 widens the range to everything before.
    /// </summary>
    public static (DateTimeOffset From, DateTimeOffset To) PartitionOf(IEnumerable<Guid> runIds)
    {
        DateTimeOffset? from = null, to = null;
        foreach (var id in runIds)
        {
            var at = UuidV7.TimeOf(id) ?? DateTimeOffset.UnixEpoch;
            if (from is null || at < from) from = at;
            if (to is null || at > to) to = at;
        }
        // A millisecond wide; the stored key (microseconds) is the same instant truncated, so never past the next millisecond.
        return (from ?? DateTimeOffset.UnixEpoch, (to ?? DateTimeOffset.UnixEpoch).AddMilliseconds(1));
    }
}
