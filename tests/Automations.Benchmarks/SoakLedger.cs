using System.Collections.Concurrent;
using System.Globalization;

namespace Automations.Benchmarks;

/// <summary>
/// The soak's exactly-once bookkeeping, in memory that grows by 17 bytes per event sent: the event's number
/// ("s-N") indexes its first webhook-id (16 bytes) and a state byte (accepted, arrived), in chunks of 64 Ki events
/// allocated as the load reaches them. An hour at 200 events/s is 720,000 events: 12 MB (the benchmark's receipts
/// take a few hundred bytes per event and a queue entry per arrival, about 300 MB for that hour). A copy with the
/// same webhook-id is a resend, under another webhook-id a doubled event; both are counted (the first few kept as
/// samples). Latencies are kept for the current minute only: <see cref="TakeMinute"/> hands them over and starts
/// the next.
/// </summary>
public sealed class SoakLedger(string prefix)
{
    private const int ChunkBits = 16;
    private const int ChunkSize = 1 << ChunkBits;
    private const byte AcceptedBit = 1, ArrivedBit = 2;
    private const int MaxSamples = 20;

    private readonly Lock _lock = new();
    private readonly List<Guid[]> _firstWebhookId = [];
    private readonly List<byte[]> _state = [];
    private List<float> _minuteLatencies = [];
    private long _highest = -1;

    public long AcceptedCount { get; private set; }
    public long RefusedCount { get; private set; }
    /// <summary>Events that arrived at least once.</summary>
    public long Delivered { get; private set; }
    /// <summary>Copies of an event under a webhook-id it had already arrived with (a receiver that dedupes by it drops them).</summary>
    public long Resent { get; private set; }
    /// <summary>Copies of an event under another webhook-id: a doubled effect no receiver can tell apart.</summary>
    public long Doubled { get; private set; }
    /// <summary>Arrivals whose event id or webhook-id is not one the load sent (a bad body or header).</summary>
    public long Unknown { get; private set; }
    public ConcurrentQueue<string> Samples { get; } = new();

    /// <summary>Bytes held for the per-event bookkeeping (the chunks allocated so far).</summary>
    public long BytesHeld
    {
        get { lock (_lock) return (long)_state.Count * ChunkSize * (16 + 1); }
    }

    public void Accept(string benchId)
    {
        if (!TryIndex(benchId, out var i)) return;
        lock (_lock)
        {
            ref var state = ref State(i);
            if ((state & AcceptedBit) == 0) AcceptedCount++;
            state |= AcceptedBit;
            _highest = Math.Max(_highest, i);
        }
    }

    public void Refuse()
    {
        lock (_lock) RefusedCount++;
    }

    public void Arrived(string benchId, string webhookId, double latencyMs)
    {
        var known = TryIndex(benchId, out var i);
        var hasId = Guid.TryParse(webhookId, out var id);
        lock (_lock)
        {
            // An arrival may come before its 202 does (so past the highest accepted number), but not a million past it:
            // a bad number must not allocate chunks.
            if (!known || !hasId || i > _highest + 16L * ChunkSize)
            {
                Unknown++;
                Sample($"unknown arrival: event '{benchId}', webhook-id '{webhookId}'");
                return;
            }
            ref var state = ref State(i);
            ref var first = ref _firstWebhookId[(int)(i >> ChunkBits)][i & (ChunkSize - 1)];
            if ((state & ArrivedBit) == 0)
            {
                state |= ArrivedBit;
                first = id;
                Delivered++;
                if (double.IsFinite(latencyMs)) _minuteLatencies.Add((float)latencyMs);
            }
            else if (first == id)
            {
                Resent++;
                Sample($"resent: event {benchId} again under webhook-id {webhookId}");
            }
            else
            {
                Doubled++;
                Sample($"doubled: event {benchId} under webhook-id {webhookId}, first under {first}");
            }
        }
    }

    /// <summary>Accepted events not (yet) arrived.</summary>
    public long Missing()
    {
        lock (_lock)
        {
            long missing = 0;
            foreach (var chunk in _state)
                foreach (var s in chunk)
                    if (s == AcceptedBit) missing++;
            return missing;
        }
    }

    /// <summary>
    /// Compares the ledger with the ids of the deliveries the sender still records as succeeded: every recorded id must be
    /// one an event first arrived under, and the newest <paramref name="recent"/> arrived events must all be recorded
    /// (retention drops only what is older than its window). Returns the recorded ids the ledger does not know, and the
    /// recent arrivals that are not recorded.
    /// </summary>
    public (long Unmatched, long RecentMissing) CompareRecorded(IReadOnlySet<Guid> recorded, long recent)
    {
        lock (_lock)
        {
            var firsts = new HashSet<Guid>();
            long recentMissing = 0, seen = 0;
            for (var i = _highest; i >= 0; i--)
            {
                if ((State(i) & ArrivedBit) == 0) continue;
                var id = _firstWebhookId[(int)(i >> ChunkBits)][i & (ChunkSize - 1)];
                firsts.Add(id);
                if (seen++ < recent && !recorded.Contains(id)) recentMissing++;
            }
            return (recorded.Count(id => !firsts.Contains(id)), recentMissing);
        }
    }

    /// <summary>The latencies (ms) of the events that first arrived since the last call, sorted; starts the next minute.</summary>
    public float[] TakeMinute()
    {
        List<float> taken;
        lock (_lock)
        {
            taken = _minuteLatencies;
            _minuteLatencies = new List<float>(taken.Count);
        }
        var sorted = taken.ToArray();
        Array.Sort(sorted);
        return sorted;
    }

    private bool TryIndex(string benchId, out long index)
    {
        index = -1;
        return benchId.Length > prefix.Length + 1 && benchId.StartsWith(prefix, StringComparison.Ordinal) && benchId[prefix.Length] == '-'
            && long.TryParse(benchId.AsSpan(prefix.Length + 1), NumberStyles.None, CultureInfo.InvariantCulture, out index);
    }

    /// <summary>The state byte of event <paramref name="i"/>, its chunk allocated when first reached. Under the lock.</summary>
    private ref byte State(long i)
    {
        var chunk = (int)(i >> ChunkBits);
        while (_state.Count <= chunk)
        {
            _state.Add(new byte[ChunkSize]);
            _firstWebhookId.Add(new Guid[ChunkSize]);
        }
        return ref _state[chunk][i & (ChunkSize - 1)];
    }

    private void Sample(string what)
    {
        if (Samples.Count < MaxSamples) Samples.Enqueue(what);
    }
}
