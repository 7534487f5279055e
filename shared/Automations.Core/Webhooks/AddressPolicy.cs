using System.Net;
using System.Net.Sockets;

namespace Automations.Core.Webhooks;

/// <summary>
/// SSRF guard: which resolved addresses a webhook may connect to. Anything that is not a public unicast address is
/// refused (loopback, private, link-local and cloud metadata, CGNAT, unspecified, multicast, reserved and documentation
/// ranges), including IPv4 addresses hidden inside IPv6 forms (IPv4-mapped, IPv4-compatible, 6to4, NAT64), unless the
/// address is inside the operator's allow-list.
/// </summary>
public sealed class AddressPolicy
{
    private static readonly (IPNetwork Net, string Reason)[] V4 =
    [
        (IPNetwork.Parse("0.0.0.0/8"), "unspecified"),
        (IPNetwork.Parse("10.0.0.0/8"), "private"),
        (IPNetwork.Parse("100.64.0.0/10"), "CGNAT"),
        (IPNetwork.Parse("127.0.0.0/8"), "loopback"),
        (IPNetwork.Parse("169.254.169.254/32"), "cloud metadata"),
        (IPNetwork.Parse("169.254.0.0/16"), "link-local"),
        (IPNetwork.Parse("172.16.0.0/12"), "private"),
        (IPNetwork.Parse("192.0.0.0/24"), "reserved"),
        (IPNetwork.Parse("192.0.2.0/24"), "reserved"),
        (IPNetwork.Parse("192.88.99.0/24"), "reserved"),
        (IPNetwork.Parse("192.168.0.0/16"), "private"),
        (IPNetwork.Parse("198.18.0.0/15"), "reserved"),
        (IPNetwork.Parse("198.51.100.0/24"), "reserved"),
        (IPNetwork.Parse("203.0.113.0/24"), "reserved"),
        (IPNetwork.Parse("224.0.0.0/4"), "multicast"),
        (IPNetwork.Parse("240.0.0.0/4"), "reserved"),
    ];

    private static readonly (IPNetwork Net, string Reason)[] V6 =
    [
        (IPNetwork.Parse("::1/128"), "loopback"),
        (IPNetwork.Parse("::/128"), "unspecified"),
        (IPNetwork.Parse("64:ff9b:1::/48"), "private"),
        (IPNetwork.Parse("100::/64"), "reserved"),
        (IPNetwork.Parse("2001::/23"), "reserved"),
        (IPNetwork.Parse("2001:db8::/32"), "reserved"),
        (IPNetwork.Parse("fc00::/7"), "private"),
        (IPNetwork.Parse("fe80::/10"), "link-local"),
        (IPNetwork.Parse("fec0::/10"), "reserved"),
        (IPNetwork.Parse("ff00::/8"), "multicast"),
    ];

    private static readonly IPNetwork GlobalUnicast = IPNetwork.Parse("2000::/3");
    private static readonly IPNetwork Nat64 = IPNetwork.Parse("64:ff9b::/96");
    private static readonly IPNetwork SixToFour = IPNetwork.Parse("2002::/16");
    private static readonly IPNetwork V4Compatible = IPNetwork.Parse("::/96");

    private readonly IReadOnlyList<IPNetwork> _allowed;

    public AddressPolicy(IEnumerable<IPNetwork> allowed) => _allowed = allowed.ToArray();

    /// <summary>The empty allow-list: only public addresses.</summary>
    public static AddressPolicy Default { get; } = new([]);

    /// <summary>From a comma-separated CIDR list, e.g. "127.0.0.0/8,::1/128" (empty or null: nothing extra allowed).</summary>
    public static AddressPolicy Parse(string? allowedCidrs) =>
        new((allowedCidrs ?? "").Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(c => c.Contains('/', StringComparison.Ordinal) ? IPNetwork.Parse(c) : new IPNetwork(IPAddress.Parse(c), IPAddress.Parse(c).AddressFamily == AddressFamily.InterNetwork ? 32 : 128)));

    /// <returns>null when <paramref name="address"/> may be connected to, else the reason it is refused.</returns>
    public string? Check(IPAddress address)
    {
        if (IsAllowListed(address)) return null;
        var reason = Classify(address);
        return reason is null ? null : $"{address} is a {reason} address";
    }

    private bool IsAllowListed(IPAddress address)
    {
        foreach (var net in _allowed)
        {
            if (net.Contains(address)) return true;
            if (address.IsIPv4MappedToIPv6 && net.Contains(address.MapToIPv4())) return true;
        }
        return false;
    }

    /// <summary>The kind of non-public address (e.g. "loopback", "private"), or null for a public unicast address.</summary>
    public static string? Classify(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            if (address.Equals(IPAddress.Broadcast)) return "broadcast";
            foreach (var (net, reason) in V4)
                if (net.Contains(address)) return reason;
            return null;
        }
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return "non-IP";
        if (address.IsIPv4MappedToIPv6) return Embedded("IPv4-mapped", address.MapToIPv4());
        if (address.ScopeId != 0) address = new IPAddress(address.GetAddressBytes());
        foreach (var (net, reason) in V6)
            if (net.Contains(address)) return reason;
        var bytes = address.GetAddressBytes();
        if (V4Compatible.Contains(address)) return Embedded("IPv4-compatible", new IPAddress(bytes.AsSpan(12, 4)));
        if (Nat64.Contains(address)) return Embedded("NAT64", new IPAddress(bytes.AsSpan(12, 4)));
        if (SixToFour.Contains(address)) return Embedded("6to4", new IPAddress(bytes.AsSpan(2, 4)));
        return GlobalUnicast.Contains(address) ? null : "reserved";
    }

    private static string? Embedded(string form, IPAddress v4)
    {
        var inner = Classify(v4);
        return inner is null ? null : $"{form} {inner}";
    }
}
