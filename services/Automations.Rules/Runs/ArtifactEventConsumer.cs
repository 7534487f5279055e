using System.Diagnostics;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Templates;
using Automations.Persistence;
using Automations.Persistence.Control;
using Automations.Persistence.Writes;
using Automations.Rules.Matching;
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
        var runs = new List<(Step Inserted, AutomationRun Run)>();
        List<CompiledAutomation> matched;
        await using (connection)
        {
            var started = Stopwatch.GetTimestamp();
            var automations = cache.TryGet(e.Entity, e.Project) ?? await cache.GetAsync(await connection.GetAsync(ct), null, e.Entity, e.Project, ct);
            matched = cache.Match(automations, e);
            metrics.Matching(Stopwatch.GetElapsedTime(started), e.EventType);
            // Most events match nothing: the event's JSON (kept with each run) is written only for one that does.
            var firing = matched.Count == 0 ? null
                : new FiringEvent(e.EventId, e.ProducerEventId, e.EventType, e.Entity, e.Project, e.OccurredAt, e.ReceivedAt, JsonSerializer.Serialize(e, Json.Options));
            foreach (var automation in matched)
            {
                var run = await AutomationRun.CreateAsync(automation.Row, firing!, TemplateVariables.For(e, automation.Row.Name),
                    async (jobId, token) => await AutomationQueries.LatestJobVersionAsync(await connection.GetAsync(token), null, jobId, token), ct);
                // Only for a new message, and only once per automation and event (a row returned means it is new); its command is published when the run is.
                var inserted = w.Execute(AutomationRun.Insert($"where exists (select 1 from {inbox})"), run.Row);
                if (run.Command is { } command) w.Publish(command, when: inserted, messageId: run.CommandId);
                runs.Add((inserted, run));
            }
        }
        var result = await w.CommitAsync(ct);
        if (matched.Count == 0) return;

        var created = runs.Where(r => result.Count(r.Inserted) == 1).Select(r => r.Run).ToList();
        foreach (var group in created.GroupBy(r => (r.Status, r.Row.ActionType)))
            metrics.Run(group.Key.Status, group.Key.ActionType, group.Count());
        // Per event, so Debug: at hundreds of events a second the console logger's lock would serialise the consumers
        // (the run history, metrics and traces carry the same facts).
        logger.LogDebug("Event {EventId} ({EventType} {Entity}/{Project}/{Collection}) fired {Runs} automation(s)",
            e.EventId, e.EventType, e.Entity, e.Project, e.Collection, created.Count);
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
