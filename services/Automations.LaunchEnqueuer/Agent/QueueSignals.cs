using System.Collections.Concurrent;
using Npgsql;

namespace Automations.LaunchEnqueuer.Agent;

/// <summary>
/// Wakes long-polling claims when an item becomes claimable on their queue: one LISTEN connection per replica; the
/// NOTIFY is sent in the transaction that queued the item, so it arrives only after commit. A lost notification
/// costs at most one poll interval (claims re-check the table on their own).
/// </summary>
public sealed class QueueSignals(NpgsqlDataSource dataSource, ILogger<QueueSignals> logger) : BackgroundService
{
    public const string Channel = "launch_queue_items";
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource> _waiters = new();
    private readonly ConcurrentDictionary<Guid, int> _waiting = new();

    /// <summary>A task that completes at the next notification for <paramref name="queueId"/>. Take it before looking at the table.</summary>
    public Task Next(Guid queueId) =>
        _waiters.GetOrAdd(queueId, _ => new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>Claims on <paramref name="queueId"/> that looked, found nothing and now wait in <see cref="WaitAsync"/>.</summary>
    public int Waiting(Guid queueId) => _waiting.GetValueOrDefault(queueId);

    /// <summary>A claim's wait after an empty look: until <paramref name="signal"/> (from <see cref="Next"/>) or <paramref name="poll"/>.</summary>
    public async Task WaitAsync(Guid queueId, Task signal, TimeSpan poll, CancellationToken stopping, CancellationToken ct)
    {
        _waiting.AddOrUpdate(queueId, 1, (_, n) => n + 1);
        try
        {
            await Task.WhenAny(signal, Task.Delay(poll, stopping)).WaitAsync(ct);
        }
        finally
        {
            if (_waiting.AddOrUpdate(queueId, 0, (_, n) => n - 1) == 0) _waiting.TryRemove(KeyValuePair.Create(queueId, 0));
        }
    }

    private void Signal(string payload)
    {
        if (Guid.TryParse(payload, out var queueId) && _waiters.TryRemove(queueId, out var tcs))
            tcs.TrySetResult();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                connection.Notification += (_, e) => Signal(e.Payload);
                await using (var cmd = new NpgsqlCommand($"listen {Channel}", connection))
                    await cmd.ExecuteNonQueryAsync(stoppingToken);
                while (!stoppingToken.IsCancellationRequested)
                    await connection.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Queue listener lost its connection; claims poll until it is back");
                try { await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken); } catch (OperationCanceledException) { return; }
            }
        }
    }
}
