using Microsoft.Extensions.Options;

namespace Automations.Rules.Runs;

/// <summary>
/// Bounds the events of <see cref="Automations.Contracts.ArtifactEventsReceived"/> batches handled at once in this process
/// (<see cref="RulesOptions.MaxBatchedEventsAtOnce"/>), across all the batches in hand.
/// </summary>
public sealed class BatchedEventsGate(IOptions<RulesOptions> options) : IDisposable
{
    private readonly SemaphoreSlim _gate = new(Math.Max(1, options.Value.MaxBatchedEventsAtOnce));
    private int _inHand;
    private int _peak;

    /// <summary>The most events handled at once since the start (tests read it).</summary>
    public int Peak => Volatile.Read(ref _peak);

    public async Task<IDisposable> EnterAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        var now = Interlocked.Increment(ref _inHand);
        for (var peak = Volatile.Read(ref _peak); now > peak; peak = Volatile.Read(ref _peak))
            if (Interlocked.CompareExchange(ref _peak, now, peak) == peak) break;
        return new Lease(this);
    }

    public void Dispose() => _gate.Dispose();

    private sealed class Lease(BatchedEventsGate owner) : IDisposable
    {
        private int _done;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _done, 1) == 1) return;
            Interlocked.Decrement(ref owner._inHand);
            owner._gate.Release();
        }
    }
}
