using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Templates;
using Automations.Persistence;
using Automations.Persistence.Control;
using Automations.Persistence.Writes;
using Automations.Rules.Matching;
using Automations.ServiceDefaults;
using MassTransit;
using Npgsql;

namespace Automations.Rules.Runs;

/// <summary>
/// One statement per event, committed with whatever else is queued (group commit): the inbox mark, and per matched automation
/// a run row (unique per automation and event within its partition: runs are partitioned by the event's received_at) and its command in the outbox. Any failure rolls everything back; after
/// the immediate retries the event goes to the error queue with its exception. An event that matches nothing writes its inbox row only.
/// </summary>
public sealed class ArtifactEventConsumer(NpgsqlDataSource dataSource, AutomationCache cache, RunMetrics metrics,
    [FromKeyedServices(Extensions.Schema)] Writes writes, BatchedEventsGate gate, ILogger<ArtifactEventConsumer> logger)
    : IConsumer<ArtifactEventReceived>, IConsumer<ArtifactEventsReceived>
{
    /// <summary>
    /// A batch of at most this many events (what Ingestion's idle linger gathers below load) is committed together: one
    /// commit, and its commands in one message. A larger one (under load) is handled event by event as its events are
    /// ready, the group commit batching their statements as they come: waiting for a whole chunk's slowest event there
    /// kept fewer events in flight and cost about a fifth of the throughput at the benchmark's maximum
    /// (docs/performance.md, "One commit per batch, one linger per event").
    /// </summary>
    private const int TogetherUpTo = 16;

    public Task Consume(ConsumeContext<ArtifactEventReceived> context) =>
        HandleAsync(context.Message, context.MessageId ?? context.Message.EventId, context.CancellationToken, together: null);

    /// <summary>
    /// Each event of the batch handled at once exactly as the single message (its own inbox key, the event's id, which
    /// is the single message's id; its own write unit, committed with the others' in a small batch), in its own trace. A
    /// transient failure (the database away) fails the batch, to be retried as the single message is: what was handled
    /// is skipped then by its inbox row. Any other failure is the event's own (a poison event): the event goes back to
    /// this queue alone, to meet the single message's retries and reach the error queue with its exception, and the
    /// others are kept. At most Rules:MaxBatchedEventsAtOnce events of all batches are handled at once.
    /// </summary>
    public async Task Consume(ConsumeContext<ArtifactEventsReceived> context)
    {
        var items = (context.Message.Events ?? []).Where(i => i?.Event is not null).ToList();
        var failures = items.Count <= Math.Min(TogetherUpTo, gate.Max)
            ? await HandleTogetherAsync(items, context.CancellationToken)
            : await Task.WhenAll(items.Select(i => HandleAloneAsync(i, context.CancellationToken)));
        if (failures.FirstOrDefault(f => f is not null && ConsumerRetry.IsTransient(f)) is { } transient)
            ExceptionDispatchInfo.Throw(transient);
        for (var i = 0; i < items.Count; i++)
        {
            if (failures[i] is null) continue;
            var e = items[i].Event;
            logger.LogWarning(failures[i], "Event {EventId} of a batch failed; it goes back to {Queue} alone", e.EventId,
                ArtifactEventConsumerDefinition.Queue);
            using var activity = StartItemActivity(items[i], $"{ArtifactEventConsumerDefinition.Queue} requeue");
            var endpoint = await context.GetSendEndpoint(context.ReceiveContext.InputAddress);
            await endpoint.Send(e, Pipe.Execute<SendContext<ArtifactEventReceived>>(c => c.MessageId = e.EventId), context.CancellationToken);
        }
    }

    /// <summary>
    /// A small batch: its events in hand together (their places in the gate taken whole), handled at once, and their
    /// units committed as one.
    /// </summary>
    private async Task<Exception?[]> HandleTogetherAsync(List<ArtifactEventItem> items, CancellationToken ct)
    {
        using var lease = await gate.EnterAsync(items.Count, ct);
        var group = writes.Group(items.Count, ct);
        return await Task.WhenAll(items.Select(i => TryHandleAsync(i, group.Join(), ct)));
    }

    private async Task<Exception?> HandleAloneAsync(ArtifactEventItem item, CancellationToken ct)
    {
        using var lease = await gate.EnterAsync(1, ct);
        return await TryHandleAsync(item, together: null, ct);
    }

    private async Task<Exception?> TryHandleAsync(ArtifactEventItem item, CommitGroup.Member? together, CancellationToken ct)
    {
        using var leave = together;
        using var activity = StartItemActivity(item, $"{ArtifactEventConsumerDefinition.Queue} process");
        try
        {
            await HandleAsync(item.Event, item.Event.EventId, ct, together);
            return null;
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            return ex;
        }
    }

    /// <summary>In the event's own trace (the request that stored it); the batch's receive span is linked.</summary>
    private static Activity? StartItemActivity(ArtifactEventItem item, string name)
    {
        var activity = Telemetry.StartBatchItem(name, item.Traceparent);
        activity?.SetTag("automations.event_id", item.Event.EventId);
        return activity;
    }

    private async Task HandleAsync(ArtifactEventReceived e, Guid inboxId, CancellationToken ct, CommitGroup.Member? together)
    {
        // A pooled connection only for what is read (the project's automations when not cached, a launch job's latest
        // version), given back before the write waits for its group commit.
        var connection = new LazyConnection(dataSource);
        // An event that matches nothing still leaves its inbox row (operators and tests look for it).
        var w = writes.Begin();
        var inbox = w.Inbox(ArtifactEventConsumerDefinition.InboxName, inboxId);
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
        var result = together is null ? await w.CommitAsync(ct) : await together.CommitAsync(w);
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
