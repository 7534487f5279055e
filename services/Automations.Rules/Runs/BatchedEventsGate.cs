using Microsoft.Extensions.Options;

namespace Automations.Rules.Runs;

/// <summary>
/// Bounds the events of <see cref="Automations.Contracts.ArtifactEventsReceived"/> batches handled at once in this process
/// (<see cref="RulesOptions.MaxBatchedEventsAtOnce"/>), across all the batches in hand.
/// </summary>
public sealed class BatchedEventsGate : IDisposable
{
    private readonly int _max;
    private readonly SemaphoreSlim _gate;
    private int _peak;

    public BatchedEventsGate(IOptions<RulesOptions> options)
    {
        _max = Math.Max(1, options.Value.MaxBatchedEventsAtOnce);
        _gate = new SemaphoreSlim(_max);
    }

    /// <summary>The most events handled at once since the start (tests read it).</summary>
    public int Peak => Volatile.Read(ref _peak);

    public async Task<IDisposable> EnterAsync(CancellationToken ct)
    {
        await _gate.WaitAsync(ct);
        var now = _max - _gate.CurrentCount;
        for (var peak = Volatile.Read(ref _peak); now > peak; peak = Volatile.Read(ref _peak))
            if (Interlocked.CompareExchange(ref _peak, now, peak) == peak) break;
        return new Lease(_gate);
    }

    public void Dispose() => _gate.Dispose();

    private sealed class Lease(SemaphoreSlim gate) : IDisposable
    {
        public void Dispose() => gate.Release();
    }
}
