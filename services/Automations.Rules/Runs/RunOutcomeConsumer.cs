using Automations.Contracts;
using Automations.Persistence.Writes;
using MassTransit;

namespace Automations.Rules.Runs;

/// <summary>
/// Moves a run on from the workers' outcome events, keyed by RunId. Finished and Failed are final: a late or repeated
/// outcome never changes them. LaunchJobEnqueued moves Pending to Enqueued only.
/// </summary>
public sealed class RunOutcomeConsumer([FromKeyedServices(Extensions.Schema)] Writes writes, RunMetrics metrics, ILogger<RunOutcomeConsumer> logger) :
    IConsumer<WebhookDeliveryCompleted>,
    IConsumer<WebhookDeliveriesCompleted>,
    IConsumer<WebhookDeliveryFailed>,
    IConsumer<LaunchJobEnqueued>,
    IConsumer<LaunchJobFinished>,
    IConsumer<LaunchJobFailed>
{
    public Task Consume(ConsumeContext<WebhookDeliveryCompleted> context) =>
        MoveAsync(context, context.Message.RunId, RunStatus.Finished, Reason(context.Message));

    /// <summary>The sender's successes of the last few milliseconds: every run in one statement (one row each, as the single message).</summary>
    public async Task Consume(ConsumeContext<WebhookDeliveriesCompleted> context)
    {
        var items = context.Message.Deliveries ?? [];
        if (items.Count == 0) return;
        var runIds = items.Select(d => d.RunId).ToArray();
        var reasons = items.Select(Reason).ToArray();
        var ct = context.CancellationToken;
        var (from, to) = AutomationRun.PartitionOf(runIds);
        var moved = await UpdateAsync(FinishInPartition + FinishReturning, new { runIds, reasons, from, to }, ct);
        // Runs outside their ids' partition (made before ids carried it), final already, or unknown: once more across
        // every partition. A run moved above is final now and is not moved twice.
        if (moved.Count < items.Count)
            moved = [.. moved, .. await UpdateAsync(FinishAll + FinishReturning, new { runIds, reasons }, ct)];
        foreach (var actionType in moved) metrics.Run(RunStatus.Finished, actionType);
        if (moved.Count < items.Count)
            logger.LogInformation("{Ignored} of {Count} delivered outcomes ignored: unknown runs or already final", items.Count - moved.Count, items.Count);
    }

    private const string FinishAll =
        """
        update rules.runs r set status = 'Finished', reason = v.reason, updated_at = now(), finished_at = now()
        from unnest(@runIds, @reasons) as v(id, reason)
        where r.id = v.id and r.status in ('Pending', 'Enqueued')
        """;

    internal const string FinishReturning = " returning r.action_type";

    // The statements narrowed to the runs' partition (received_at within the ids' range): PostgreSQL then opens one
    // partition of rules.runs, where by id alone it would open and probe every one the retention keeps.
    internal const string FinishInPartition = FinishAll + " and r.received_at >= @from and r.received_at <= @to";

    private const string Move =
        """
        update rules.runs set status = @status, reason = @reason, updated_at = now(),
               finished_at = case when @status in ('Finished', 'Failed') then now() end
        where id = @runId and status = any(@from)
        """;

    private const string MoveReturning = " returning action_type";

    private const string MoveInPartition = Move + " and received_at >= @partitionFrom and received_at <= @partitionTo";

    /// <summary>One update of runs in the next group commit; the action type of each run it moved.</summary>
    private async Task<List<string>> UpdateAsync(string update, object args, CancellationToken ct)
    {
        var w = writes.Begin();
        var step = w.Execute(update, args);
        return [.. (await w.CommitAsync(ct)).Values<string>(step)];
    }

    private static string Reason(WebhookDeliveryCompleted d) => $"delivered: HTTP {d.StatusCode} after {d.Attempts} attempt(s)";

    public Task Consume(ConsumeContext<WebhookDeliveryFailed> context) =>
        MoveAsync(context, context.Message.RunId, RunStatus.Failed, Truncate(context.Message.Reason));

    public Task Consume(ConsumeContext<LaunchJobEnqueued> context) =>
        MoveAsync(context, context.Message.RunId, RunStatus.Enqueued, $"queued as item {context.Message.QueueItemId}");

    public Task Consume(ConsumeContext<LaunchJobFinished> context) =>
        context.Message.ExitCode == 0
            ? MoveAsync(context, context.Message.RunId, RunStatus.Finished, "job exited with code 0")
            : MoveAsync(context, context.Message.RunId, RunStatus.Failed, $"job exited with code {context.Message.ExitCode}");

    public Task Consume(ConsumeContext<LaunchJobFailed> context) =>
        MoveAsync(context, context.Message.RunId, RunStatus.Failed, Truncate(context.Message.Reason));

    private static string Truncate(string s) => s.Length > 2000 ? s[..2000] : s;

    private async Task MoveAsync(ConsumeContext context, Guid runId, string status, string reason)
    {
        var ct = context.CancellationToken;
        var from = status == RunStatus.Enqueued ? new[] { RunStatus.Pending } : [RunStatus.Pending, RunStatus.Enqueued];
        // One statement in the next group commit, narrowed to the run's partition; a run made before ids
        // carried it is looked for once more across partitions. No inbox row: the move is its own guard (Finished and
        // Failed are final, Enqueued comes only from Pending), so a repeated outcome changes nothing; the inbox row was
        // one more insert and two index entries per event.
        var (partitionFrom, partitionTo) = AutomationRun.PartitionOf([runId]);
        var actionType = (await UpdateAsync(MoveInPartition + MoveReturning, new { runId, status, reason, from, partitionFrom, partitionTo }, ct)).FirstOrDefault()
                         ?? (await UpdateAsync(Move + MoveReturning, new { runId, status, reason, from }, ct)).FirstOrDefault();
        if (actionType is not null) metrics.Run(status, actionType);
        else logger.LogInformation("Outcome {Status} for run {RunId} ignored: unknown run or already final", status, runId);
    }
}
