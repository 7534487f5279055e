using System.Globalization;
using System.Net;
using Automations.Core.Webhooks.Idna;

namespace Automations.Core.Webhooks;

/// <summary>Which URL rule refused a webhook URL.</summary>
public enum UrlRule
{
    Required,
    TooLong,
    Malformed,
    Scheme,
    UserInfo,
    HostName,
    IpLiteral,
    Localhost,
}

/// <param name="Message">Says the rule in words (e.g. "… is an IP address literal …"), for the `url` field of a problem.</param>
public sealed record UrlRefusal(UrlRule Rule, string Message);

/// <summary>
/// W&amp;B's webhook URL rule, the same for every deployment and checked when a URL is saved and again before each request:
/// http(s) only, no user info, and a host that is neither an IP address literal (in any spelling a resolver or browser
/// accepts: dotted, decimal, hex, octal, shortened, IPv6, IPv4-mapped, and their Unicode look-alikes) nor `localhost` or a
/// name under it. The operator allow-list (Webhooks:AllowedCidrs) does not bend this rule: it only lets the sender connect
/// to DNS names whose addresses fall in it (<see cref="WebhookDestination"/>).
/// </summary>
/// <remarks>
/// The host is read from the raw text as well as from what <see cref="Uri"/> made of it (Uri rewrites `http://2130706433/` to
/// `127.0.0.1` but keeps other spellings), and each is mapped as a browser would (<see cref="Uts46"/>) before the checks: in
/// invariant globalization Uri only punycode-encodes Unicode, so `http://１２７.０.０.１/` would otherwise look like a name.
/// </remarks>
public static class UrlPolicy
{
    public const int MaxLength = 2048;

    /// <returns>null when the URL may be saved, else the rule it breaks.</returns>
    public static UrlRefusal? Check(string? url) => Check(url, out _);

    /// <param name="target">the URL to send to, its host in the ASCII form a resolver looks up; null when refused.</param>
    public static UrlRefusal? Check(string? url, out Uri? target)
    {
        target = null;
        if (string.IsNullOrWhiteSpace(url)) return new(UrlRule.Required, "the URL is required");
        if (url.Length > MaxLength) return new(UrlRule.TooLong, $"the URL is longer than {MaxLength} characters");
        if (url.Any(c => char.IsControl(c) || char.IsWhiteSpace(c))) return Malformed("the URL contains whitespace or control characters");
        if (url.Contains('\\', StringComparison.Ordinal)) return Malformed("the URL contains a backslash, which browsers read as '/'; write '/' or %5C");
        var schemeEnd = url.IndexOf("://", StringComparison.Ordinal);
        var rest = schemeEnd < 0 ? "" : url[(schemeEnd + 3)..];
        var end = rest.IndexOfAny(['/', '?', '#']);
        var authority = end < 0 ? rest : rest[..end];
        if (authority.Contains('@', StringComparison.Ordinal)) return UserInfo();
        if (authority.Contains('%', StringComparison.Ordinal)) return new(UrlRule.HostName, "the host must not be percent-encoded");
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri)) return Malformed("the URL is not an absolute URL");
        if (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps)
            return new(UrlRule.Scheme, $"the scheme '{uri.Scheme}' is not allowed; use http or https");
        if (schemeEnd < 0) return new(UrlRule.Scheme, "the URL must start with http:// or https://");
        if (!string.IsNullOrEmpty(uri.UserInfo)) return UserInfo();

        var rawHost = HostOf(authority);
        if (rawHost.Length == 0 || string.IsNullOrEmpty(uri.Host)) return new(UrlRule.HostName, "the URL has no host");
        string? ascii = null;
        foreach (var host in new[] { rawHost, uri.Host }.Distinct(StringComparer.Ordinal))
        {
            var refusal = CheckHost(host, out var mapped);
            if (refusal is not null) return refusal;
            if (ascii is not null && ascii != mapped) return new(UrlRule.HostName, $"the host '{rawHost}' reads differently to different parsers");
            ascii = mapped;
        }
        target = new UriBuilder(uri) { Host = ascii }.Uri;
        return null;
    }

    private static UrlRefusal Malformed(string message) => new(UrlRule.Malformed, message);

    private static UrlRefusal UserInfo() => new(UrlRule.UserInfo, "the URL must not carry user info (user:password@)");

    private static UrlRefusal Literal(string host, string address) =>
        new(UrlRule.IpLiteral, $"the host '{host}' is an IP address literal ({address}); use a DNS name");

    private static UrlRefusal? CheckHost(string host, out string ascii)
    {
        ascii = "";
        if (host.StartsWith('['))
        {
            // Brackets hold only IPv6 (or IPvFuture) literals.
            var inner = host.Trim('[', ']');
            var zone = inner.IndexOf('%', StringComparison.Ordinal);
            return IPAddress.TryParse(zone < 0 ? inner : inner[..zone], out var v6)
                ? Literal(host, v6.ToString())
                : new(UrlRule.IpLiteral, $"the host '{host}' is a bracketed IP address literal (not even a valid one); use a DNS name");
        }

        var mapped = Uts46.ToAscii(host, out var error);
        if (mapped is null) return new(UrlRule.HostName, error!);
        var name = mapped.EndsWith('.') ? mapped[..^1] : mapped;
        if (name.Length == 0) return new(UrlRule.HostName, "the URL has no host");

        foreach (var c in name)
            if (!(char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '-' or '_' or '.'))
                return c == ':'
                    ? new(UrlRule.IpLiteral, $"the host '{host}' reads as '{mapped}' (a colon after IDNA mapping): an IP address literal or a port; use a DNS name")
                    : new(UrlRule.HostName, $"the host '{host}' contains '{c}' (after IDNA mapping), which a host name cannot contain");

        var labels = name.Split('.');
        if (labels.Any(l => l.Length == 0)) return new(UrlRule.HostName, $"the host '{host}' has an empty label (two dots in a row, or a leading dot)");
        if (name.Length > 253 || labels.Any(l => l.Length > 63)) return new(UrlRule.HostName, $"the host '{host}' is longer than DNS allows (labels of 63, names of 253 characters)");

        if (name == "localhost" || name.EndsWith(".localhost", StringComparison.Ordinal))
            return new(UrlRule.Localhost, $"the host '{host}' is localhost{(name == "localhost" ? "" : " (a name under .localhost)")}; use a DNS name that reaches the endpoint");

        if (LooksNumeric(labels[^1]))
        {
            // Browsers and inet_aton read a host whose last label is a number as an IPv4 address (WHATWG URL, "ends in a number").
            var v4 = ParseIPv4(labels);
            return v4 is null
                ? new(UrlRule.IpLiteral, $"the host '{host}' ends in a number, so it reads as an IP address literal (not a valid one); use a DNS name")
                : Literal(host, v4.ToString());
        }
        ascii = mapped;
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
