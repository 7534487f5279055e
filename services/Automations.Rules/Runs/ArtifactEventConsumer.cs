using System.Diagnostics;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Templates;
using Automations.Persistence;
using Automations.Persistence.Control;
using Automations.Persistence.Writes;
using Automations.Rules.Matching;
using Dapper;
using MassTransit;
using Npgsql;

namespace Automations.Rules.Runs;

/// <summary>
/// One statement per event, committed with whatever else is queued (group commit): the inbox mark, and per matched automation
/// a run row (unique per automation and event within its partition: runs are partitioned by the event's received_at) and its command in the outbox. Any failure rolls everything back; after
/// the immediate retries the event goes to the error queue with its exception. An event that matches nothing writes its inbox row only.
/// </summary>
public sealed class ArtifactEventConsumer(NpgsqlDataSource dataSource, AutomationCache cache, RunMetrics metrics,
    [FromKeyedServices(Extensions.Schema)] Writes writes, ILogger<ArtifactEventConsumer> logger)
    : IConsumer<ArtifactEventReceived>
{

    public async Task Consume(ConsumeContext<ArtifactEventReceived> context)
    {
        var e = context.Message;
        var ct = context.CancellationToken;
        // A pooled connection only for what is read (the project's automations when not cached, a launch job's latest
        // version), given back before the write waits for its group commit.
        var connection = new LazyConnection(dataSource);
        // An event that matches nothing still leaves its inbox row (operators and tests look for it).
        var w = writes.Begin();
        var inbox = w.Inbox(ArtifactEventConsumerDefinition.InboxName, context.MessageId ?? e.EventId);
        var runs = new List<Step>();
        List<CompiledAutomation> matched;
        await using (connection)
        {
            var started = Stopwatch.GetTimestamp();
            var automations = cache.TryGet(e.Entity, e.Project) ?? await cache.GetAsync(await connection.GetAsync(ct), null, e.Entity, e.Project, ct);
            matched = cache.Match(automations, e);
            metrics.Matching(Stopwatch.GetElapsedTime(started), e.EventType);
            foreach (var automation in matched) runs.Add(await RunAsync(w, inbox, connection, e, automation.Row, ct));
        }
        var result = await w.CommitAsync(ct);
        if (matched.Count == 0) return;

        var created = matched.Where((_, i) => result.Count(runs[i]) == 1).Select(a => a.Row.ActionType).ToList();
        foreach (var group in created.GroupBy(t => t))
            metrics.Run(group.Key == ActionTypes.NoOp ? RunStatus.Finished : RunStatus.Pending, group.Key, group.Count());
        // Per event, so Debug: at hundreds of events a second the console logger's lock would serialise the consumers
        // (the run history, metrics and traces carry the same facts).
        logger.LogDebug("Event {EventId} ({EventType} {Entity}/{Project}/{Collection}) fired {Runs} automation(s)",
            e.EventId, e.EventType, e.Entity, e.Project, e.Collection, created.Count);
    }

    /// <summary>
    /// One automation's run, only for a new message and only once per automation and event (a row returned means it is
    /// new), and its command, published when the run is.
    /// </summary>
    private static async Task<Step> RunAsync(WriteUnit w, Step inbox, LazyConnection connection, ArtifactEventReceived e, AutomationRow a, CancellationToken ct)
    {
        var runId = Guid.CreateVersion7();
        var commandId = Guid.CreateVersion7();
        var variables = TemplateVariables.For(e, a.Name);
        var eventJson = JsonSerializer.Serialize(e, Json.Options);
        string? payload;
        int? jobVersion = a.JobVersion;
        object? command;
        string status = RunStatus.Pending;
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
            jobVersion ??= await AutomationQueries.LatestJobVersionAsync(await connection.GetAsync(ct), null, jobId, ct)
                ?? throw new InvalidOperationException($"Launch job {jobId} of automation {a.Id} has no version");
            payload = ActionRendering.LaunchOverrides(a.OverridesJson, variables);
            command = new EnqueueLaunchJob(commandId, runId, e.EventId, a.Id, e.Entity, e.Project, jobId, jobVersion.Value, queueId,
                a.TargetProject, payload, eventJson, e.OccurredAt);
        }

        var run = w.Execute(
            $"""
            insert into rules.runs (id, automation_id, automation_name, entity, project, event_id, producer_event_id, event_type, event,
                                    action_type, webhook_id, job_id, job_version, queue_id, target_project, command_id, payload, status, reason,
                                    finished_at, received_at)
            select @runId, @id, @name, @entity, @project, @eventId, @producerEventId, @eventType, @eventJson::jsonb,
                   @actionType, @webhookId::uuid, @jobId::uuid, @jobVersion::int, @queueId::uuid, @targetProject::text, @commandId, @payload::text,
                   @status, @reason::text, case when @status = 'Finished' then now() end, @receivedAt
            where exists (select 1 from {inbox})
            on conflict do nothing
            returning 1
            """,
            new
            {
                runId, a.Id, a.Name, e.Entity, e.Project, e.EventId, e.ProducerEventId, e.EventType, eventJson, a.ActionType,
                a.WebhookId, a.JobId, jobVersion, a.QueueId, a.TargetProject, commandId, payload, status, reason, receivedAt = ReceivedAt(e),
            });
        if (command is not null) w.Publish(command, when: run, messageId: commandId);
        return run;
    }

    /// <summary>
    /// The run's partition key: the event's, so a redelivered event meets its first run in the same partition (whose
    /// unique (automation_id, event_id) stops it). A message without it (published before the field existed) uses now.
    /// </summary>
    private static DateTimeOffset ReceivedAt(ArtifactEventReceived e) => e.ReceivedAt == default ? DateTimeOffset.UtcNow : e.ReceivedAt;

    /// <summary>A pooled connection opened on first use only: a cached project and a webhook automation read nothing.</summary>
    private sealed class LazyConnection(NpgsqlDataSource dataSource) : IAsyncDisposable
    {
        private NpgsqlConnection? _connection;

        public async ValueTask<NpgsqlConnection> GetAsync(CancellationToken ct) => _connection ??= await dataSource.OpenConnectionAsync(ct);

        public async ValueTask DisposeAsync()
        {
            if (_connection is { } c)
            {
                _connection = null;
                await c.DisposeAsync();
            }
        }
    }
}
