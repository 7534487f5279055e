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
    private readonly SemaphoreSlim _taking = new(1);
    private int _peak;

    public BatchedEventsGate(IOptions<RulesOptions> options)
    {
        _max = Math.Max(1, options.Value.MaxBatchedEventsAtOnce);
        _gate = new SemaphoreSlim(_max);
    }

    /// <summary>The most events handled at once since the start (tests read it).</summary>
    public int Peak => Volatile.Read(ref _peak);

    /// <summary>The most events one caller may take at once: the bound.</summary>
    public int Max => _max;

    /// <summary>
    /// Takes <paramref name="count"/> places (at most <see cref="Max"/>) whole: one caller takes its places at a time,
    /// so no two wait for each other while each holds part of what it needs.
    /// </summary>
    public async Task<IDisposable> EnterAsync(int count, CancellationToken ct)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _max);
        var taken = 0;
        await _taking.WaitAsync(ct);
        try
        {
            for (; taken < count; taken++) await _gate.WaitAsync(ct);
        }
        catch
        {
            if (taken > 0) _gate.Release(taken);
            throw;
        }
        finally
        {
            _taking.Release();
        }
        var now = _max - _gate.CurrentCount;
        for (var peak = Volatile.Read(ref _peak); now > peak; peak = Volatile.Read(ref _peak))
            if (Interlocked.CompareExchange(ref _peak, now, peak) == peak) break;
        return new Lease(_gate, count);
    }

    public void Dispose()
    {
        _gate.Dispose();
        _taking.Dispose();
    }

    private sealed class Lease(SemaphoreSlim gate, int count) : IDisposable
    {
        private int _count = count;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _count, 0) is > 0 and var n) gate.Release(n);
        }
    }
}
