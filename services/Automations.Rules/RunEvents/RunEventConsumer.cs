using System.Diagnostics;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Runs;
using Automations.Core.Templates;
using Automations.Persistence;
using Automations.Persistence.Control;
using Automations.Persistence.Writes;
using Automations.Rules.Matching;
using Automations.Rules.Runs;
using Dapper;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Automations.Rules.RunEvents;

/// <summary>
/// A run event in one transaction: the inbox mark, the per-run state it changes (rules.run_states for RUN_STATE,
/// rules.run_metric_windows for RUN_METRIC), and per automation that fires a run and its command in the outbox. The
/// state rows are read <c>for update</c>, so two events of one run (on any replica) take turns and each sees the
/// other's committed state; a redelivered message finds its inbox mark and changes nothing; a crash anywhere rolls all
/// of it back, so the event is handled again whole. Unlike artifact events (one statement, group-committed), the
/// decision needs the state read in between.
/// </summary>
public sealed class RunEventConsumer(AutomationCache cache, RunMetrics metrics, [FromKeyedServices(Extensions.Schema)] Writes writes,
    IOptions<RulesOptions> options, ILogger<RunEventConsumer> logger) : IConsumer<RunEventReceived>
{
    public async Task Consume(ConsumeContext<RunEventReceived> context)
    {
        var e = context.Message;
        var ct = context.CancellationToken;
        await using var w = await writes.BeginTransactionAsync(ct);
        if (!await w.InboxAsync(RunEventConsumerDefinition.InboxName, context.MessageId ?? e.EventId, ct)) return;

        var started = Stopwatch.GetTimestamp();
        var automations = cache.TryGet(e.Entity, e.Project) ?? await cache.GetAsync(w.Connection, w.Transaction, e.Entity, e.Project, ct);
        var watching = new List<CompiledAutomation>();
        foreach (var a in automations)
        {
            try
            {
                if (a.Trigger.Watches(e)) watching.Add(a);
            }
            catch (System.Text.RegularExpressions.RegexMatchTimeoutException)
            {
                logger.LogWarning("Automation {AutomationId}: its run name regex timed out on event {EventId}; not fired", a.Row.Id, e.EventId);
            }
        }
        metrics.Matching(Stopwatch.GetElapsedTime(started), e.EventType);

        var fired = new List<(CompiledAutomation Automation, MetricFired? Metric)>();
        if (e.EventType == RunEventTypes.RunState)
        {
            // Kept whether or not an automation watches now: one saved later must know the state the run is in.
            if (await EnterStateAsync(w, e, ct))
                fired.AddRange(watching.Select(a => (a, (MetricFired?)null)));
        }
        else if (e.EventType == RunEventTypes.RunMetric && e.Step is { } step && e.Metrics is { } values)
        {
            // A fixed order of the rows each event locks: two events of one run never wait on each other in a cycle.
            foreach (var a in watching.OrderBy(a => a.Row.Id))
            {
                var condition = a.Trigger.Condition!;
                if (await ObserveAsync(w, e, a.Row.Id, condition, step, values[condition.Metric], ct) is { } metric)
                    fired.Add((a, metric));
            }
        }

        var firing = new FiringEvent(e.EventId, e.ProducerEventId, e.EventType, e.Entity, e.Project, e.OccurredAt, e.ReceivedAt, JsonSerializer.Serialize(e, Json.Options));
        var created = new List<AutomationRun>();
        foreach (var (a, metric) in fired)
        {
            var run = await AutomationRun.CreateAsync(a.Row, firing, TemplateVariables.For(e, a.Row.Name, options.Value.RunUrlBase, metric),
                (jobId, token) => AutomationQueries.LatestJobVersionAsync(w.Connection, w.Transaction, jobId, token), ct);
            // As for artifact events: once per automation and event; the command is published when the run is new.
            if (await w.Connection.ExecuteAsync(new CommandDefinition(AutomationRun.Insert(), run.Row, w.Transaction, cancellationToken: ct)) != 1) continue;
            if (run.Command is { } command) w.Publish(command, run.CommandId);
            created.Add(run);
        }
        await w.CommitAsync(ct);

        foreach (var group in created.GroupBy(r => (r.Status, r.Row.ActionType))) metrics.Run(group.Key.Status, group.Key.ActionType, group.Count());
        logger.LogDebug("Run event {EventId} ({EventType} {Entity}/{Project} run {RunId}) fired {Runs} automation(s)",
            e.EventId, e.EventType, e.Entity, e.Project, e.RunId, fired.Count);
    }

    /// <summary>
    /// Records the run's state; true when the run enters it: no state kept yet, or another one. A report older than the
    /// kept one (by occurredAt) changes nothing: a late "running" after "finished" does not reopen the run.
    /// </summary>
    private static async Task<bool> EnterStateAsync(TransactionUnit w, RunEventReceived e, CancellationToken ct)
    {
        var inserted = await w.Connection.ExecuteAsync(new CommandDefinition(
            """
            insert into rules.run_states (entity, project, run_id, state, occurred_at)
            values (@Entity, @Project, @RunId, @State, @OccurredAt)
            on conflict do nothing
            """, new { e.Entity, e.Project, e.RunId, e.State, e.OccurredAt }, w.Transaction, cancellationToken: ct));
        if (inserted == 1) return true;
        var kept = await w.Connection.QuerySingleAsync<(string State, DateTime OccurredAt)>(new CommandDefinition(
            "select state, occurred_at from rules.run_states where entity = @Entity and project = @Project and run_id = @RunId for update",
            new { e.Entity, e.Project, e.RunId }, w.Transaction, cancellationToken: ct));
        if (e.OccurredAt.UtcDateTime < kept.OccurredAt || string.Equals(kept.State, e.State, StringComparison.Ordinal)) return false;
        await w.Connection.ExecuteAsync(new CommandDefinition(
            """
            update rules.run_states set state = @State, occurred_at = @OccurredAt, updated_at = now()
            where entity = @Entity and project = @Project and run_id = @RunId
            """, new { e.Entity, e.Project, e.RunId, e.State, e.OccurredAt }, w.Transaction, cancellationToken: ct));
        return true;
    }

    /// <summary>Takes one value into the automation's window for this run (of this project: a team automation watches many) and metric; what fired, when the condition starts to hold.</summary>
    private static async Task<MetricFired?> ObserveAsync(TransactionUnit w, RunEventReceived e, Guid automationId, MetricCondition condition, long step, double value,
        CancellationToken ct)
    {
        var key = new { automationId, e.RunId, metric = condition.Metric, e.Entity, e.Project };
        await w.Connection.ExecuteAsync(new CommandDefinition(
            """
            insert into rules.run_metric_windows (automation_id, run_id, metric, entity, project, steps, vals, active)
            values (@automationId, @RunId, @metric, @Entity, @Project, '{}', '{}', false)
            on conflict do nothing
            """, key, w.Transaction, cancellationToken: ct));
        var row = await w.Connection.QuerySingleAsync<(long[] Steps, double[] Vals, bool Active)>(new CommandDefinition(
            "select steps, vals, active from rules.run_metric_windows where automation_id = @automationId and project = @Project and run_id = @RunId and metric = @metric for update",
            key, w.Transaction, cancellationToken: ct));
        var (next, outcome, evaluation) = new MetricWindow(row.Steps, row.Vals, row.Active).Observe(condition, step, value);
        if (outcome == MetricWindow.Outcome.Stale) return null;
        await w.Connection.ExecuteAsync(new CommandDefinition(
            """
            update rules.run_metric_windows set steps = @steps, vals = @vals, active = @active, updated_at = now()
            where automation_id = @automationId and project = @Project and run_id = @RunId and metric = @metric
            """, new { automationId, e.Project, e.RunId, metric = condition.Metric, steps = next.Steps.ToArray(), vals = next.Values.ToArray(), active = next.Active },
            w.Transaction, cancellationToken: ct));
        return outcome == MetricWindow.Outcome.Fired ? MetricFired.For(condition, evaluation!) : null;
    }
}
