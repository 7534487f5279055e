using System.Net;
using System.Net.Sockets;
using Automations.Core.Webhooks;

namespace Automations.Testing;

/// <summary>
/// A resolver for the sender in tests: the names it was given answer with their addresses (what a hostile DNS zone could
/// answer), any other name goes to the system resolver. It records every name it was asked, in the form it was asked.
/// </summary>
public sealed class NameTable(IReadOnlyDictionary<string, IPAddress[]> names) : IHostResolver
{
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _asked = new();

    public IReadOnlyList<string> Asked => [.. _asked];

    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct)
    {
        _asked.Enqueue(host);
        if (names.TryGetValue(host, out var addresses))
            return addresses.Length == 0 ? Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound)) : Task.FromResult(addresses);
        return Dns.GetHostAddressesAsync(host, ct);
    }
}
