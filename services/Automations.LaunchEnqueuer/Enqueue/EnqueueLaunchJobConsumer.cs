using System.Diagnostics;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Launch;
using Automations.Persistence.Control;
using Automations.Persistence.Writes;
using Automations.ServiceDefaults;
using Dapper;
using MassTransit;
using Npgsql;

namespace Automations.LaunchEnqueuer.Enqueue;

/// <summary>
/// One queue item per command: the inbox absorbs a redelivered message, the command_id (looked for in every partition,
/// unique in each) a second command with the same id. A queue or job version that vanished since the automation was saved ends the run as failed, with the reason.
/// </summary>
public sealed class EnqueueLaunchJobConsumer([FromKeyedServices(Extensions.Schema)] Writes writes, LaunchMetrics metrics, ILogger<EnqueueLaunchJobConsumer> logger)
    : IConsumer<EnqueueLaunchJob>
{
    public async Task Consume(ConsumeContext<EnqueueLaunchJob> context)
    {
        var m = context.Message;
        var ct = context.CancellationToken;
        Activity.Current?.SetTag("automations.command_id", m.CommandId);
        Activity.Current?.SetTag("automations.run_id", m.RunId);

        await using var w = await writes.BeginTransactionAsync(ct);
        if (!await w.InboxAsync(EnqueueLaunchJobConsumerDefinition.InboxName, context.MessageId ?? m.CommandId, ct)) return;
        var (connection, tx) = (w.Connection, w.Transaction);

        var queue = await LaunchQueries.FindQueueAsync(connection, m.QueueId, tx, ct);
        var version = await LaunchQueries.FindJobVersionAsync(connection, m.JobId, m.JobVersion, tx, ct);
        string? failure = null;
        string? runConfig = null;
        if (queue is null || queue.Entity != m.Entity)
            failure = $"The launch queue {m.QueueId} no longer exists.";
        else if (version is null || version.Entity != m.Entity)
            failure = $"Version {m.JobVersion} of launch job {m.JobId} no longer exists.";
        else
        {
            try { runConfig = ConfigMerge.Merge(version.DefaultConfig, m.OverridesJson); }
            catch (JsonException) { failure = "The automation's config overrides are not valid JSON."; }
        }

        var id = Guid.CreateVersion7();
        var now = DateTimeOffset.UtcNow;
        var inserted = await connection.ExecuteAsync(
            """
            insert into launch.queue_items (id, command_id, run_id, event_id, automation_id, entity_id, entity, project, queue_id, job_id, job_name,
                job_version, command, args, run_config, target_project, event, state, failure_reason, created_at, updated_at, ended_at, traceparent, retain_from)
            select @id, @CommandId, @RunId, @EventId, @AutomationId, @entityId, @Entity, @Project, @QueueId, @JobId, @jobName,
                @JobVersion, @command, @args::jsonb, @runConfig::jsonb, @TargetProject, @eventJson::jsonb, @state, @failure, @now, @now,
                case when @state = 'failed' then @now end, @traceparent, case when @state = 'failed' then @now else 'infinity' end
            where not exists (select from launch.queue_items where command_id = @CommandId)
            on conflict do nothing
            """,
            new
            {
                id, m.CommandId, m.RunId, m.EventId, m.AutomationId, entityId = queue?.EntityId, m.Entity, m.Project, m.QueueId, m.JobId,
                jobName = version?.JobName, m.JobVersion, command = version?.Command, args = version?.Args, runConfig, m.TargetProject,
                eventJson = AsJson(m.EventJson), state = failure is null ? "queued" : "failed", failure, now,
                traceparent = Activity.Current?.Id,
            }, tx);
        if (inserted == 0)
        {
            logger.LogInformation("Command {CommandId} already has a queue item; nothing to do", m.CommandId);
            await w.CommitAsync(ct);
            return;
        }

        if (failure is null)
        {
            w.Publish(new LaunchJobEnqueued(m.CommandId, m.RunId, id, m.QueueId, now));
            await connection.ExecuteAsync("select pg_notify(@channel, @queue)", new { channel = Agent.QueueSignals.Channel, queue = m.QueueId.ToString() }, tx);
            logger.LogInformation("Queued item {QueueItemId} of job {JobId} v{JobVersion} on queue {QueueId}", id, m.JobId, m.JobVersion, m.QueueId);
        }
        else
        {
            w.Publish(new LaunchJobFailed(m.CommandId, m.RunId, id, failure, now));
            logger.LogWarning("Launch command {CommandId} failed: {Reason}", m.CommandId, failure);
        }
        await w.CommitAsync(ct);
        metrics.Count(failure is null ? "queued" : "rejected");
    }

    /// <summary>The event is kept as JSON; text that is not JSON (never sent by Rules) is kept as a JSON string, not dropped.</summary>
    private static string AsJson(string? text)
    {
        if (string.IsNullOrWhiteSpace(text)) return "{}";
        try
        {
            using var _ = JsonDocument.Parse(text);
            return text;
        }
        catch (JsonException)
        {
            return JsonSerializer.Serialize(text);
        }
    }
}
