using System.Net;
using Automations.Core.Webhooks;
using Microsoft.Extensions.Options;

namespace Automations.WebhookSender.Sending;

/// <summary>The system resolver (getaddrinfo: /etc/hosts, then DNS), its answers kept for Webhooks:DnsCacheTtl (<see cref="HostAddressCache"/>).</summary>
public sealed class DnsHostResolver(IOptions<WebhookOptions> options) : IHostResolver
{
    private readonly HostAddressCache _cache = new((host, ct) => Dns.GetHostAddressesAsync(host, ct), options.Value.DnsCacheTtl);

    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct) => _cache.ResolveAsync(host, ct);
}
