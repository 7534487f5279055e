using System.Threading.Channels;
using Automations.Persistence.Retention;
using Microsoft.Extensions.Options;

namespace Automations.WebhookSender.Deliveries;

/// <summary>
/// The durable retry schedule's clock: every SchedulerInterval, or when woken (a redelivery, a webhook that turned work
/// away has room again), it has the dispatcher take due deliveries (its own, other replicas', ones whose claim ran out
/// after a crash); it also counts the backlog.
/// </summary>
public sealed class DeliveryScheduler(
    DeliveryStore store, DeliveryDispatcher dispatcher, IOptions<WebhookOptions> options, IOptions<RetentionOptions> retention, DeliveryMetrics metrics,
    ILogger<DeliveryScheduler> logger)
    : BackgroundService
{
    private readonly Channel<bool> _wake = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite });

    /// <summary>Look for due work now (after a redelivery, for instance).</summary>
    public void Wake() => _wake.Writer.TryWrite(true);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        dispatcher.RoomFreed += Wake;
        try
        {
            await RunAsync(stoppingToken);
        }
        finally
        {
            dispatcher.RoomFreed -= Wake;
        }
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var nextCount = DateTime.UtcNow;
        var nextSweep = DateTime.UtcNow.AddMinutes(1);
        while (!stoppingToken.IsCancellationRequested)
        {
            var claimed = 0;
            try
            {
                if (DateTime.UtcNow >= nextCount)
                {
                    nextCount = DateTime.UtcNow.AddSeconds(5);
                    metrics.Backlog(await store.CountPendingAsync(stoppingToken));
                    metrics.OpenIncidents(await store.CountOpenIncidentsAsync(stoppingToken));
                }
                if (DateTime.UtcNow >= nextSweep)
                {
                    nextSweep = DateTime.UtcNow.AddHours(1);
                    await store.SweepHealthAsync(retention.Value.History, stoppingToken);
                }
                claimed = await dispatcher.DispatchDueAsync(o.SchedulerBatchSize, stoppingToken);
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
