namespace Automations.WebhookSender.Deliveries;

/// <summary>
/// A budget of bytes taken and given back by many callers: a caller whose take would pass the limit waits until enough
/// is given back. A take larger than the whole budget still goes when nothing else is taken, so no size blocks for ever.
/// </summary>
public sealed class ByteBudget(long limit)
{
    private readonly Lock _gate = new();
    private long _used;
    private TaskCompletionSource _given = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public long Limit { get; } = Math.Max(1, limit);
    public long Used => Volatile.Read(ref _used);

    public bool TryTake(long bytes)
    {
        lock (_gate)
        {
            if (_used > 0 && _used + bytes > Limit) return false;
            _used += bytes;
            return true;
        }
    }

    public async Task TakeAsync(long bytes, CancellationToken ct)
    {
        while (true)
        {
            Task given;
            lock (_gate)
            {
                if (_used == 0 || _used + bytes <= Limit)
                {
                    _used += bytes;
                    return;
                }
                given = _given.Task;
            }
            await given.WaitAsync(ct);
        }
    }

    public void Give(long bytes)
    {
        TaskCompletionSource given;
        lock (_gate)
        {
            _used -= bytes;
            given = _given;
            _given = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        given.TrySetResult();
    }
}
