using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace Automations.WebhookSender.Deliveries;

/// <summary>
/// The durable retry schedule's clock: claims due deliveries (its own, other replicas', ones whose claim ran out after a
/// crash) and hands them to the dispatcher, never more than the dispatcher has room for.
/// </summary>
public sealed class DeliveryScheduler(
    DeliveryStore store, DeliveryDispatcher dispatcher, Npgsql.NpgsqlDataSource dataSource, IOptions<WebhookOptions> options, DeliveryMetrics metrics,
    ILogger<DeliveryScheduler> logger)
    : BackgroundService
{
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>Look for due work now (after a redelivery, for instance).</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var nextSweep = DateTime.UtcNow.AddMinutes(1);
        var nextCount = DateTime.UtcNow;
        while (!stoppingToken.IsCancellationRequested)
        {
            var claimed = 0;
            try
            {
                if (DateTime.UtcNow >= nextCount)
                {
                    nextCount = DateTime.UtcNow.AddSeconds(5);
                    metrics.Backlog(await store.CountPendingAsync(stoppingToken));
                }
                if (DateTime.UtcNow >= nextSweep)
                {
                    // Redelivered broker messages arrive within minutes; a week of inbox rows is plenty (the command_id key stays forever).
                    nextSweep = DateTime.UtcNow.AddHours(1);
                    await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                    await Persistence.Inbox.Inbox.SweepAsync(connection, Extensions.Schema, TimeSpan.FromDays(7));
                }
                var room = Math.Min(o.SchedulerBatchSize, o.MaxConcurrency * 4 - dispatcher.InFlight);
                if (room > 0)
                {
                    var due = await store.ClaimDueAsync(room, dispatcher.BusyWebhooks(), stoppingToken);
                    // A webhook below its limit when the query ran may have reached it since (or get more due
                    // deliveries than it has places): those claims go back at once, due for the next pass.
                    List<WorkItem>? overflow = null;
                    foreach (var work in due)
                        if (dispatcher.TryHold(work.WebhookId)) dispatcher.Dispatch(work);
                        else (overflow ??= []).Add(work);
                    if (overflow is not null) await store.ReleaseAsync(overflow);
                    claimed = due.Count;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Claiming due deliveries failed; trying again");
            }
            if (claimed >= o.SchedulerBatchSize) continue;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
            timeout.CancelAfter(o.SchedulerInterval);
            try { await _wake.Reader.ReadAsync(timeout.Token); }
            catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested) { }
            catch (OperationCanceledException) { break; }
        }
    }
}
