using System.Collections.Concurrent;
using System.Net;

namespace Automations.Core.Webhooks;

/// <summary>
/// A webhook host's addresses, looked up once per <see cref="Ttl"/> instead of once per request: a lookup is a
/// getaddrinfo call on a thread of its own (and for a remote name a DNS round trip; for the machine's own name .NET also
/// lists every interface), which at hundreds of deliveries a second to one endpoint cost the sender CPU and every
/// delivery latency. The SSRF guard still checks the cached addresses on every request and the connection still goes to
/// those only, so a cached answer is never trusted more than a fresh one; an endpoint's move is seen within the TTL, as
/// with any resolver cache. Failures are not kept (the next request asks again). Concurrent requests for a name not
/// cached share one lookup. At most <see cref="MaxEntries"/> names are kept; past that the expired go, then the oldest (a tenth of the bound at once).
/// </summary>
public sealed class HostAddressCache(Func<string, CancellationToken, Task<IPAddress[]>> lookup, TimeSpan ttl, int maxEntries = 10_000,
    TimeProvider? time = null) : IHostResolver
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.OrdinalIgnoreCase);
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public TimeSpan Ttl { get; } = ttl;
    public int MaxEntries { get; } = Math.Max(1, maxEntries);
    public int Count => _entries.Count;

    public async Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct)
    {
        if (Ttl <= TimeSpan.Zero) return await lookup(host, ct);
        var now = _time.GetUtcNow();
        if (!_entries.TryGetValue(host, out var entry) || entry.Expires <= now)
        {
            var fresh = new Entry(new Lazy<Task<IPAddress[]>>(() => lookup(host, CancellationToken.None)), now + Ttl);
            entry = entry is null ? _entries.GetOrAdd(host, fresh) : _entries.TryUpdate(host, fresh, entry) ? fresh : _entries.GetOrAdd(host, fresh);
            if (_entries.Count > MaxEntries) Trim(now);
        }
        try
        {
            // The lookup is shared: one caller's cancellation stops its own wait only.
            return await entry.Addresses.Value.WaitAsync(ct);
        }
        catch (Exception) when (!ct.IsCancellationRequested)
        {
            _entries.TryRemove(new KeyValuePair<string, Entry>(host, entry));
            throw;
        }
    }

    private void Trim(DateTimeOffset now)
    {
        foreach (var (host, entry) in _entries)
            if (entry.Expires <= now) _entries.TryRemove(new KeyValuePair<string, Entry>(host, entry));
        // Past the bound, the oldest go with a tenth more: the sort is paid once per tenth of the bound, not per new name.
        var excess = _entries.Count - MaxEntries;
        if (excess <= 0) return;
        excess += MaxEntries / 10;
        foreach (var (host, entry) in _entries.OrderBy(e => e.Value.Expires).Take(excess).ToList())
            _entries.TryRemove(new KeyValuePair<string, Entry>(host, entry));
    }

    private sealed record Entry(Lazy<Task<IPAddress[]>> Addresses, DateTimeOffset Expires);
}
