using Automations.Contracts;
using Automations.LaunchEnqueuer.Agent;
using Automations.Persistence.Writes;
using Dapper;
using Microsoft.Extensions.Options;

namespace Automations.LaunchEnqueuer.Leases;

/// <summary>
/// Returns items whose lease expired (the agent died or lost its network) to their queue, or fails the run once the
/// item has been claimed Launch:MaxClaims times. SKIP LOCKED lets several replicas sweep side by side.
/// </summary>
public sealed class LeaseSweeper(IOptionsMonitor<LaunchOptions> options, [FromKeyedServices(Extensions.Schema)] Writes writes,
    LaunchMetrics metrics, ILogger<LeaseSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                while (await SweepOnceAsync(stoppingToken) >= BatchSize) { }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Sweeping expired leases failed; retrying");
            }
            try { await Task.Delay(TimeSpan.FromSeconds(options.CurrentValue.SweepIntervalSeconds), stoppingToken); }
            catch (OperationCanceledException) { return; }
        }
    }

    private const int BatchSize = 200;

    public async Task<int> SweepOnceAsync(CancellationToken ct)
    {
        var maxClaims = options.CurrentValue.MaxClaims;
        await using var w = await writes.BeginTransactionAsync(ct);
        var (connection, tx) = (w.Connection, w.Transaction);
        var expired = (await connection.QueryAsync<Expired>(new CommandDefinition(
            """
            select id as Id, queue_id as QueueId, command_id as CommandId, run_id as RunId, claims as Claims
            from launch.queue_items
            where state in ('claimed', 'running') and lease_expires_at < now()
            order by lease_expires_at limit @batch for update skip locked
            """, new { batch = BatchSize }, tx, cancellationToken: ct))).AsList();
        var now = DateTimeOffset.UtcNow;
        foreach (var item in expired)
        {
            if (item.Claims >= maxClaims)
            {
                var reason = $"The agent's lease expired {item.Claims} time(s) without a report; giving up after Launch:MaxClaims = {maxClaims}.";
                await connection.ExecuteAsync(
                    """
                    update launch.queue_items set state = 'failed', failure_reason = @reason, lease_expires_at = null, ended_at = @now, updated_at = @now, retain_from = @now
                    where id = @Id
                    """, new { item.Id, reason, now }, tx);
                w.Publish(new LaunchJobFailed(item.CommandId, item.RunId, item.Id, reason, now));
                logger.LogWarning("Queue item {QueueItemId} failed: lease expired {Claims} times", item.Id, item.Claims);
            }
            else
            {
                await connection.ExecuteAsync(
                    """
                    update launch.queue_items set state = 'queued', lease_id = null, lease_expires_at = null, claimed_by = null, started_at = null, updated_at = @now
                    where id = @Id;
                    select pg_notify(@channel, @queue);
                    """, new { item.Id, now, channel = QueueSignals.Channel, queue = item.QueueId.ToString() }, tx);
                logger.LogInformation("Queue item {QueueItemId} lease expired (claim {Claims}); back in the queue", item.Id, item.Claims);
            }
        }
        await w.CommitAsync(ct);
        foreach (var item in expired) metrics.Count(item.Claims >= maxClaims ? "expired" : "requeued");
        return expired.Count;
    }

    private sealed class Expired
    {
        public Guid Id { get; set; }
        public Guid QueueId { get; set; }
        public Guid CommandId { get; set; }
        public Guid RunId { get; set; }
        public int Claims { get; set; }
    }
}
