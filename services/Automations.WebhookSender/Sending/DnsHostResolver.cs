using System.Net;
using Automations.Core.Webhooks;

namespace Automations.WebhookSender.Sending;

/// <summary>The system resolver (getaddrinfo: /etc/hosts, then DNS).</summary>
public sealed class DnsHostResolver : IHostResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct) => Dns.GetHostAddressesAsync(host, ct);
}
