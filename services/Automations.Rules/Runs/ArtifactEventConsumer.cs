using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Templates;
using Automations.Persistence;
using Automations.Persistence.Control;
using Automations.Persistence.GroupCommit;
using Automations.Persistence.Inbox;
using Automations.Persistence.Outbox;
using Automations.Rules.Matching;
using Dapper;
using MassTransit;
using Npgsql;

namespace Automations.Rules.Runs;

/// <summary>
/// One statement per event, committed with whatever else is queued (group commit): the inbox mark, and per matched automation
/// a run row (unique per automation and event) and its command in the outbox. Any failure rolls everything back; after
/// the immediate retries the event goes to the error queue with its exception. An event that matches nothing writes its inbox row only.
/// </summary>
public sealed class ArtifactEventConsumer(NpgsqlDataSource dataSource, AutomationCache cache, RunMetrics metrics,
    [FromKeyedServices(Extensions.Schema)] OutboxPublisher outbox, [FromKeyedServices(Extensions.Schema)] GroupCommitter writes,
    ILogger<ArtifactEventConsumer> logger)
    : IConsumer<ArtifactEventReceived>
{
    public const string Name = ArtifactEventConsumerDefinition.InboxName;
    private const string InboxCte = "with inbox as (insert into rules.inbox (consumer, message_id) values (@consumer, @messageId) on conflict do nothing returning 1)";

    public async Task Consume(ConsumeContext<ArtifactEventReceived> context)
    {
        var e = context.Message;
        var ct = context.CancellationToken;
        // A pooled connection only for what is read (the project's automations when not cached, a launch job's latest
        // version), given back before the write waits for its group commit.
        var connection = new LazyConnection(dataSource);
        var sql = new StringBuilder(InboxCte);
        var commands = new List<(Guid Id, object Command)>();
        var parameters = new StatementParameters(new { consumer = Name, messageId = context.MessageId ?? e.EventId });
        List<CompiledAutomation> matched;
        await using (connection)
        {
            var started = Stopwatch.GetTimestamp();
            var automations = cache.TryGet(e.Entity, e.Project) ?? await cache.GetAsync(await connection.GetAsync(ct), null, e.Entity, e.Project, ct);
            matched = cache.Match(automations, e);
            metrics.Matching(Stopwatch.GetElapsedTime(started), e.EventType);
            for (var i = 0; i < matched.Count; i++)
            {
                var (runSql, command) = await RunSqlAsync(connection, outbox, parameters, $"r{i}_", e, matched[i].Row, ct);
                sql.Append(",\n").Append(runSql);
                commands.Add(command);
            }
        }
        if (matched.Count == 0)
        {
            // Nothing fires; the inbox row still records that this message was handled (operators and tests look for it).
            await writes.QueryAsync(InboxCte + " select count(*) from inbox", parameters, ct);
            return;
        }

        var runs = string.Join(", ", Enumerable.Range(0, matched.Count).Select(i => $"(select count(*) from r{i}_run)::int"));
        var any = string.Join(" union all ", Enumerable.Range(0, matched.Count).Select(i => $"select 1 from r{i}_run"));
        sql.Append($",\nmade as ({any})\nselect array[{runs}], {outbox.NotifyIfAny("made")}");
        var inserted = await writes.ScalarAsync<int[]>(sql.ToString(), parameters, ct);
        for (var i = 0; i < commands.Count; i++)
            if (inserted![i] == 1) outbox.PublishCommitted(commands[i].Id, commands[i].Command.GetType(), commands[i].Command);

        var created = matched.Where((_, i) => inserted![i] == 1).Select(a => a.Row.ActionType).ToList();
        foreach (var group in created.GroupBy(t => t)) metrics.Run(RunStatus.Pending, group.Key, group.Count());
        // Per event, so Debug: at hundreds of events a second the console logger's lock would serialise the consumers
        // (the run history, metrics and traces carry the same facts).
        logger.LogDebug("Event {EventId} ({EventType} {Entity}/{Project}/{Collection}) fired {Runs} automation(s)",
            e.EventId, e.EventType, e.Entity, e.Project, e.Collection, created.Count);
    }

    /// <summary>
    /// Two CTEs for one automation: <c>{p}run</c> inserts the run (only for a new message, and only once per automation
    /// and event: a row there means it is new), <c>{p}out</c> its command into the outbox.
    /// </summary>
    private static async Task<(string Sql, (Guid Id, object Command) Command)> RunSqlAsync(LazyConnection connection, OutboxPublisher outbox,
        StatementParameters parameters, string p, ArtifactEventReceived e, AutomationRow a, CancellationToken ct)
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
            payload = PayloadTemplate.Render(a.Payload ?? "{}", variables);
            command = new SendWebhook(commandId, runId, e.EventId, a.Id, e.Entity, e.Project, webhookId, payload, e.OccurredAt, SendWebhook.SealedPayload);
        }
        else
        {
            var jobId = a.JobId ?? throw new InvalidOperationException($"Automation {a.Id} is a launch automation without a job");
            var queueId = a.QueueId ?? throw new InvalidOperationException($"Automation {a.Id} is a launch automation without a queue");
            jobVersion ??= await AutomationQueries.LatestJobVersionAsync(await connection.GetAsync(ct), null, jobId, ct)
                ?? throw new InvalidOperationException($"Launch job {jobId} of automation {a.Id} has no version");
            // Overrides may use the same ${...} variables as a webhook payload (e.g. the artifact to evaluate). No stage
            // after this one fills in secrets, so they are rendered to their final text here.
            payload = PayloadTemplate.RenderFinal(string.IsNullOrEmpty(a.OverridesJson) ? "{}" : a.OverridesJson, variables);
            command = new EnqueueLaunchJob(commandId, runId, e.EventId, a.Id, e.Entity, e.Project, jobId, jobVersion.Value, queueId,
                a.TargetProject, payload, eventJson, e.OccurredAt);
        }

        var values = new Dictionary<string, object?>
        {
            ["runId"] = runId, ["id"] = a.Id, ["name"] = a.Name, ["entity"] = e.Entity, ["project"] = e.Project, ["eventId"] = e.EventId,
            ["producerEventId"] = e.ProducerEventId, ["eventType"] = e.EventType, ["eventJson"] = eventJson, ["actionType"] = a.ActionType,
            ["webhookId"] = a.WebhookId, ["jobId"] = a.JobId, ["jobVersion"] = jobVersion, ["queueId"] = a.QueueId,
            ["targetProject"] = a.TargetProject, ["commandId"] = commandId, ["payload"] = payload,
        };
        foreach (var (name, value) in values) parameters.Add<object?>(p + name, value);
        OutboxWriter.AddParameters(parameters, p + "o_", command.GetType(), command, commandId);
        return ($"""
            {p}run as (
                insert into rules.runs (id, automation_id, automation_name, entity, project, event_id, producer_event_id, event_type, event,
                                        action_type, webhook_id, job_id, job_version, queue_id, target_project, command_id, payload, status)
                select @{p}runId, @{p}id, @{p}name, @{p}entity, @{p}project, @{p}eventId, @{p}producerEventId, @{p}eventType, @{p}eventJson::jsonb,
                       @{p}actionType, @{p}webhookId::uuid, @{p}jobId::uuid, @{p}jobVersion::int, @{p}queueId::uuid, @{p}targetProject::text, @{p}commandId, @{p}payload::text, 'Pending'
                where exists (select 1 from inbox)
                on conflict (automation_id, event_id) do nothing
                returning 1),
            {p}out as ({outbox.InsertFrom(p + "run", p + "o_")})
            """, (commandId, command));
    }

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
