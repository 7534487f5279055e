using Automations.LaunchAgent.Api;
using Automations.LaunchAgent.Runs;
using Microsoft.Extensions.Options;

namespace Automations.LaunchAgent;

/// <summary>
/// Agent:Concurrency slots, each claiming from the configured queues in turn (long-poll) and running what it gets.
/// On stop (SIGTERM): no more claims; running processes get Agent:ShutdownGraceSeconds to end, then are killed and
/// their items handed back to the queue.
/// </summary>
public sealed class AgentWorker(LaunchApiClient api, ItemRunner runner, IOptions<AgentOptions> options, ILogger<AgentWorker> logger) : BackgroundService
{
    private readonly CancellationTokenSource _kill = new();

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        logger.LogInformation("Agent {Name} claiming from {Queues} with {Concurrency} slot(s)", o.Name, string.Join(",", o.Queues), o.Concurrency);
        return Task.WhenAll(Enumerable.Range(0, Math.Max(1, o.Concurrency)).Select(slot => Task.Run(() => SlotAsync(slot, stoppingToken), CancellationToken.None)));
    }

    private async Task SlotAsync(int slot, CancellationToken stopClaiming)
    {
        var o = options.Value;
        var queues = o.Queues;
        var next = slot;
        var failures = 0;
        while (!stopClaiming.IsCancellationRequested)
        {
            ClaimedItem? item = null;
            try
            {
                if (queues.Count == 1)
                    item = await api.ClaimAsync(queues[0], o.WaitSeconds, stopClaiming);
                else
                {
                    // A quick look at every queue, then a long-poll on one of them, so no queue waits behind another's long-poll.
                    for (var i = 0; i < queues.Count && item is null; i++)
                        item = await api.ClaimAsync(queues[(next + i) % queues.Count], 0, stopClaiming);
                    item ??= await api.ClaimAsync(queues[next++ % queues.Count], Math.Max(1, o.WaitSeconds / queues.Count), stopClaiming);
                }
                failures = 0;
            }
            catch (OperationCanceledException) when (stopClaiming.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // A slot never ends while the agent runs: an unreachable LaunchEnqueuer (whatever the exception type; see
                // LaunchApiClient.IsTransient) is waited out, and so is a refusal (a revoked key), logged as an error.
                failures++;
                var delay = TimeSpan.FromMilliseconds(Math.Min(30_000, 250 * Math.Pow(2, Math.Min(failures, 7))));
                if (LaunchApiClient.IsTransient(ex, stopClaiming))
                    logger.LogWarning("Claiming failed ({Error}: {Message}); retrying in {Delay}", ex.GetType().Name, ex.Message, delay);
                else
                    logger.LogError(ex, "Claiming was refused ({Message}); retrying in {Delay}", ex.Message, delay);
                try { await Task.Delay(delay, stopClaiming); } catch (OperationCanceledException) { break; }
            }

            if (item is null) continue;
            try
            {
                await runner.RunAsync(item, _kill.Token);
            }
            catch (Exception ex)
            {
                // ItemRunner handles what it expects; anything else is a bug, but it must not stop the other items' slot.
                logger.LogError(ex, "Item {QueueItemId}: the runner failed unexpectedly; its lease will expire and the item go back to its queue", item.Id);
            }
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        _kill.CancelAfter(TimeSpan.FromSeconds(options.Value.ShutdownGraceSeconds));
        await base.StopAsync(cancellationToken);
    }

    public override void Dispose()
    {
        _kill.Dispose();
        base.Dispose();
    }
}
