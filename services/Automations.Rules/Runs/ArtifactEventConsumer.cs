using System.Diagnostics;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Templates;
using Automations.Persistence;
using Automations.Persistence.Control;
using Automations.Persistence.Inbox;
using Automations.Persistence.Outbox;
using Automations.Rules.Matching;
using Dapper;
using MassTransit;
using Npgsql;

namespace Automations.Rules.Runs;

/// <summary>
/// One transaction per event: inbox mark, matching, then per matched automation a run row (unique per automation and
/// event) and its command in the outbox. Any failure rolls everything back; after the immediate retries the event goes
/// to the error queue with its exception.
/// </summary>
public sealed class ArtifactEventConsumer(NpgsqlDataSource dataSource, AutomationCache cache, RunMetrics metrics, ILogger<ArtifactEventConsumer> logger)
    : IConsumer<ArtifactEventReceived>
{
    public const string Name = "rules-artifact-events";

    public async Task Consume(ConsumeContext<ArtifactEventReceived> context)
    {
        var e = context.Message;
        var ct = context.CancellationToken;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        if (!await Inbox.TryBeginAsync(connection, tx, Extensions.Schema, Name, context.MessageId ?? e.EventId))
            return;

        var started = Stopwatch.GetTimestamp();
        var automations = await cache.GetAsync(connection, tx, e.Entity, e.Project, ct);
        var matched = cache.Match(automations, e);
        metrics.Matching(Stopwatch.GetElapsedTime(started), e.EventType);

        var created = new List<string>();
        foreach (var automation in matched)
            if (await StartRunAsync(connection, tx, e, automation.Row, ct))
                created.Add(automation.Row.ActionType);
        await tx.CommitAsync(ct);

        foreach (var group in created.GroupBy(t => t)) metrics.Run(RunStatus.Pending, group.Key, group.Count());
        if (matched.Count > 0)
            logger.LogInformation("Event {EventId} ({EventType} {Entity}/{Project}/{Collection}) fired {Runs} automation(s)",
                e.EventId, e.EventType, e.Entity, e.Project, e.Collection, created.Count);
    }

    /// <returns>false when this automation already has a run for this event (the event came again under another message id).</returns>
    private static async Task<bool> StartRunAsync(NpgsqlConnection connection, NpgsqlTransaction tx, ArtifactEventReceived e, AutomationRow a, CancellationToken ct)
    {
        var runId = Guid.CreateVersion7();
        var commandId = Guid.CreateVersion7();
        var variables = TemplateVariables.For(e, a.Name);
        var eventJson = JsonSerializer.Serialize(e, Json.Options);
        string payload;
        int? jobVersion = a.JobVersion;
        object command;
        if (a.ActionType == "webhook")
        {
            var webhookId = a.WebhookId ?? throw new InvalidOperationException($"Automation {a.Id} is a webhook automation without a webhook");
            payload = PayloadTemplate.Render(a.Payload ?? "{}", variables, PayloadTemplate.RenderMode.Intermediate);
            command = new SendWebhook(commandId, runId, e.EventId, a.Id, e.Entity, e.Project, webhookId, payload, e.OccurredAt);
        }
        else
        {
            var jobId = a.JobId ?? throw new InvalidOperationException($"Automation {a.Id} is a launch automation without a job");
            var queueId = a.QueueId ?? throw new InvalidOperationException($"Automation {a.Id} is a launch automation without a queue");
            jobVersion ??= await AutomationQueries.LatestJobVersionAsync(connection, tx, jobId, ct)
                ?? throw new InvalidOperationException($"Launch job {jobId} of automation {a.Id} has no version");
            // Overrides may use the same ${...} variables as a webhook payload (e.g. the artifact to evaluate).
            payload = PayloadTemplate.Render(string.IsNullOrEmpty(a.OverridesJson) ? "{}" : a.OverridesJson, variables, PayloadTemplate.RenderMode.Intermediate);
            command = new EnqueueLaunchJob(commandId, runId, e.EventId, a.Id, e.Entity, e.Project, jobId, jobVersion.Value, queueId,
                a.TargetProject, payload, eventJson, e.OccurredAt);
        }

        var inserted = await connection.ExecuteAsync(new CommandDefinition(
            """
            insert into rules.runs (id, automation_id, automation_name, entity, project, event_id, producer_event_id, event_type, event,
                                    action_type, webhook_id, job_id, job_version, queue_id, target_project, command_id, payload, status)
            values (@runId, @Id, @Name, @entity, @project, @eventId, @producerEventId, @eventType, @eventJson::jsonb,
                    @ActionType, @WebhookId, @JobId, @jobVersion, @QueueId, @TargetProject, @commandId, @payload, 'Pending')
            on conflict (automation_id, event_id) do nothing
            """,
            new
            {
                runId, a.Id, a.Name, entity = e.Entity, project = e.Project, eventId = e.EventId, producerEventId = e.ProducerEventId,
                eventType = e.EventType, eventJson, a.ActionType, a.WebhookId, a.JobId, jobVersion, a.QueueId, a.TargetProject, commandId, payload,
            }, tx, cancellationToken: ct));
        if (inserted == 0) return false;

        await OutboxWriter.AddAsync(connection, tx, Extensions.Schema, command.GetType(), command, messageId: commandId);
        return true;
    }
}
