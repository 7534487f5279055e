using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace Automations.Core.Webhooks;

/// <summary>
/// Save-time check of a webhook URL: http(s) only, no user info, and a host that is neither an IP literal (in any
/// spelling a resolver or browser accepts: dotted, decimal, hex, octal, shortened, IPv6, IPv4-mapped) nor `localhost`,
/// unless the operator allow-list (CIDRs) contains the address. The raw authority is inspected as well as what
/// <see cref="Uri"/> made of it, because Uri normalises some spellings (`http://2130706433/` has Host `127.0.0.1`)
/// and not others. The send-time guard (resolve, refuse private addresses, pin) lives in the sender.
/// </summary>
public sealed class UrlPolicy
{
    public const int MaxLength = 2048;

    private readonly IReadOnlyList<IPNetwork> _allowed;

    public UrlPolicy(IEnumerable<IPNetwork> allowed) => _allowed = [.. allowed];

    public static UrlPolicy Empty { get; } = new([]);

    /// <summary>From `Webhooks:AllowedCidrs`: comma-separated CIDRs (a bare address counts as /32 or /128).</summary>
    public static UrlPolicy Parse(string? allowedCidrs)
    {
        var networks = new List<IPNetwork>();
        foreach (var part in (allowedCidrs ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (IPNetwork.TryParse(part, out var network)) networks.Add(network);
            else if (IPAddress.TryParse(part, out var address)) networks.Add(new IPNetwork(address, address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128));
            else throw new FormatException($"Webhooks:AllowedCidrs: '{part}' is not a CIDR (e.g. 10.0.0.0/8)");
        }
        return new UrlPolicy(networks);
    }

    public bool IsAllowed(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6) address = address.MapToIPv4();
        return _allowed.Any(n => n.Contains(address));
    }

    /// <returns>null when the URL may be saved, else the reason it may not.</returns>
    public string? Check(string? url)
    {
        if (string.IsNullOrWhiteSpace(url)) return "the URL is required";
        if (url.Length > MaxLength) return $"the URL is longer than {MaxLength} characters";
        if (url.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))) return "the URL contains whitespace or control characters";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) return "the URL is not an absolute URL";
        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) return $"the scheme '{uri.Scheme}' is not allowed; use http or https";

        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        if (schemeEnd < 0) return "the URL must start with http:// or https://";
        var rest = url[(schemeEnd + 3)..];
        var end = rest.IndexOfAny(['/', '?', '#', '\\']);
        var authority = end < 0 ? rest : rest[..end];
        if (authority.Contains('@', StringComparison.Ordinal) || !string.IsNullOrEmpty(uri.UserInfo)) return "the URL must not carry user info (user:password@)";
        if (authority.Contains('%', StringComparison.Ordinal)) return "the host must not be percent-encoded";

        var rawHost = HostOf(authority);
        if (rawHost.Length == 0 || string.IsNullOrEmpty(uri.Host)) return "the URL has no host";
        foreach (var host in new[] { rawHost, uri.IdnHost, uri.Host }.Distinct(StringComparer.OrdinalIgnoreCase))
        {
            var reason = CheckHost(host);
            if (reason is not null) return reason;
        }
        return null;
    }

    private string? CheckHost(string host)
    {
        host = host.ToLowerInvariant();
        if (host.StartsWith('[') && host.EndsWith(']')) host = host[1..^1];
        if (host.Contains(':', StringComparison.Ordinal))
        {
            var zone = host.IndexOf('%', StringComparison.Ordinal);
            if (!IPAddress.TryParse(zone < 0 ? host : host[..zone], out var v6)) return $"the host '{host}' is not a valid IPv6 address";
            return IsAllowed(v6) ? null : $"the host is an IP address literal ({v6}); use a DNS name";
        }

        var name = host.TrimEnd('.');
        if (name == "localhost" || name.EndsWith(".localhost", StringComparison.Ordinal))
            return IsAllowed(IPAddress.Loopback)
                ? null
                : "the host is localhost; use a DNS name that reaches the endpoint";

        var labels = name.Split('.');
        if (LooksNumeric(labels[^1]))
        {
            // Browsers and inet_aton treat a host whose last label is a number as an IPv4 address (WHATWG URL).
            var v4 = ParseIPv4(labels);
            if (v4 is null) return $"the host '{host}' looks like an IP address but is not a valid one";
            return IsAllowed(v4) ? null : $"the host is an IP address literal ({v4}); use a DNS name";
        }
        return null;
    }

    private static string HostOf(string authority)
    {
        if (authority.StartsWith('['))
        {
            var close = authority.IndexOf(']', StringComparison.Ordinal);
            return close < 0 ? authority : authority[..(close + 1)];
        }
        var colon = authority.LastIndexOf(':');
        return colon < 0 ? authority : authority[..colon];
    }

    private static bool LooksNumeric(string label) =>
        label.Length > 0 && (label.All(char.IsAsciiDigit) || (label.StartsWith("0x", StringComparison.Ordinal) && label[2..].All(char.IsAsciiHexDigit)));

    /// <summary>inet_aton: 1 to 4 parts, each decimal, 0x-hex or 0-octal; the last part fills the remaining bytes.</summary>
    public static IPAddress? ParseIPv4(string[] parts)
    {
        if (parts.Length is < 1 or > 4) return null;
        var values = new ulong[parts.Length];
        for (var i = 0; i < parts.Length; i++)
        {
            var p = parts[i];
            if (p.Length == 0) return null;
            bool ok;
            if (p.StartsWith("0x", StringComparison.Ordinal))
                ok = p.Length == 2 ? (values[i] = 0) == 0 : ulong.TryParse(p[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out values[i]);
            else if (p.Length > 1 && p[0] == '0')
                ok = TryParseOctal(p[1..], out values[i]);
            else
                ok = p.All(char.IsAsciiDigit) && ulong.TryParse(p, NumberStyles.None, CultureInfo.InvariantCulture, out values[i]);
            if (!ok) return null;
        }
        for (var i = 0; i < values.Length - 1; i++)
            if (values[i] > 255) return null;
        var lastBytes = 4 - (values.Length - 1);
        if (values[^1] >= 1UL << (8 * lastBytes)) return null;
        ulong address = values[^1];
        for (var i = 0; i < values.Length - 1; i++) address |= values[i] << (8 * (3 - i));
        return new IPAddress([(byte)(address >> 24), (byte)(address >> 16), (byte)(address >> 8), (byte)address]);
    }

    private static bool TryParseOctal(string s, out ulong value)
    {
        value = 0;
        foreach (var c in s)
        {
            if (c is < '0' or > '7' || value > (ulong.MaxValue >> 3)) return false;
            value = (value << 3) + (uint)(c - '0');
        }
        return true;
    }
}
