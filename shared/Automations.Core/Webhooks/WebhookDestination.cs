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
/// <param name="Addresses">the addresses the host resolved to that passed the guard, in resolver order: connect to these and nothing else.</param>
/// <param name="Error">why there is no target.</param>
/// <param name="Refused">true when a rule refused the URL (retrying cannot help), false when the lookup failed.</param>
public sealed record DestinationCheck(Uri? Target, IPAddress[] Addresses, string? Error, bool Refused);

/// <summary>
/// The send-time guard: the URL rule again (so an IP literal or `localhost` stored before the rule, or written to the
/// database by hand, is refused whatever the allow-list says), then the name is resolved and only the addresses that are
/// public or inside the operator allow-list (<see cref="AddressPolicy"/>) are kept; none left, and the delivery is refused.
/// The allow-list therefore admits only DNS names whose addresses fall in it.
/// </summary>
/// <remarks>
/// Keeping the passing addresses, rather than refusing a name with any refused address, is safe because the sender connects
/// to the kept addresses only (no second lookup). It is needed for the machine's own name: .NET answers it with every
/// interface address as well as what /etc/hosts says (on this kind of machine `vm` gives 127.0.0.1, 192.0.2.2, fd00::2 and
/// a link-local address), so a local receiver reached by the host name would otherwise never pass a loopback allow-list.
/// </remarks>
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
        var usable = resolved.Where(a => addresses.Check(a) is null).ToArray();
        if (usable.Length > 0) return new(target, usable, null, Refused: false);
        var reasons = resolved.Select(a => $"{a} ({AddressPolicy.Classify(a)} address)").ToArray();
        return new(null, [], reasons.Length == 1
            ? $"refused by the SSRF guard: {host} resolves to {reasons[0]}, which is not in the allow-list (Webhooks:AllowedCidrs)"
            : $"refused by the SSRF guard: {host} resolves only to addresses outside the allow-list (Webhooks:AllowedCidrs): {string.Join(", ", reasons)}", Refused: true);
    }
}
