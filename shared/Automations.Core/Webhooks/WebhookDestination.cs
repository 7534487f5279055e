using System.Net;
using System.Net.Sockets;

namespace Automations.Core.Webhooks;

/// <summary>Looks up the addresses of a host name (the system resolver in production, a name table in tests).</summary>
public interface IHostResolver
{
    /// <exception cref="SocketException">the name does not resolve.</exception>
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct);
}

/// <param name="Target">the URL to request, its host in ASCII; null when refused or unresolved.</param>
/// <param name="Addresses">every address the host resolved to, all of them checked: connect to these and nothing else.</param>
/// <param name="Error">why there is no target.</param>
/// <param name="Refused">true when a rule refused the URL (retrying cannot help), false when the lookup failed.</param>
public sealed record DestinationCheck(Uri? Target, IPAddress[] Addresses, string? Error, bool Refused);

/// <summary>
/// The send-time guard: the URL rule again (so an IP literal or `localhost` stored before the rule, or written to the
/// database by hand, is refused whatever the allow-list says), then the name is resolved and every address must be
/// public or inside the operator allow-list (<see cref="AddressPolicy"/>). The allow-list therefore admits only DNS names
/// whose addresses fall in it.
/// </summary>
public sealed class WebhookDestination(AddressPolicy addresses, IHostResolver resolver)
{
    public async Task<DestinationCheck> CheckAsync(string url, CancellationToken ct)
    {
        if (UrlPolicy.Check(url, out var target) is { } refusal)
            return new(null, [], $"refused by the URL rule: {refusal.Message}", Refused: true);
        var host = target!.IdnHost;
        IPAddress[] resolved;
        try
        {
            resolved = await resolver.ResolveAsync(host, ct);
        }
        catch (SocketException ex)
        {
            return new(null, [], $"could not resolve {host}: {ex.SocketErrorCode}", Refused: false);
        }
        if (resolved.Length == 0) return new(null, [], $"could not resolve {host}: no address", Refused: false);
        foreach (var address in resolved)
            if (addresses.Check(address) is not null)
                return new(null, [], $"refused by the SSRF guard: {host} resolves to {address} ({AddressPolicy.Classify(address)} address), which is not in the allow-list (Webhooks:AllowedCidrs)", Refused: true);
        return new(target, resolved, null, Refused: false);
    }
}
