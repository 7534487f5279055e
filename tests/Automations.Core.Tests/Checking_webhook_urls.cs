using System.Net;
using Automations.Core.Webhooks;

namespace Automations.Core.Tests;

/// <summary>
/// The save-time URL rule over every spelling of an IP literal or localhost we know of (ASCII, Unicode look-alikes that
/// UTS #46 maps to them, user-info and backslash tricks, other schemes), with the allow-list empty and with loopback in it:
/// the refusals never change, and the send-time guard refuses them before any lookup.
/// </summary>
[Trait("Category", "Security")]
public class Checking_webhook_urls
{
    private const UrlRule Ip = UrlRule.IpLiteral;
    private const UrlRule Local = UrlRule.Localhost;
    private const UrlRule Host = UrlRule.HostName;
    private const UrlRule Bad = UrlRule.Malformed;

    public static TheoryData<string, UrlRule> Refused => new()
    {
        // IPv4, every spelling inet_aton and browsers accept
        { "http://127.0.0.1/", Ip },
        { "http://127.0.0.1:8080/hook", Ip },
        { "https://127.0.0.1:443/", Ip },
        { "http://2130706433/", Ip },
        { "http://0x7f000001/", Ip },
        { "http://0X7F000001/", Ip },
        { "http://0x7f.0x0.0x0.0x1/", Ip },
        { "http://0177.0.0.1/", Ip },
        { "http://0177.0000.0000.0001/", Ip },
        { "http://017700000001/", Ip },
        { "http://127.1/", Ip },
        { "http://127.0.1/", Ip },
        { "http://0/", Ip },
        { "http://0x/", Ip },
        { "http://0.0.0.0/", Ip },
        { "http://10.0.0.1/", Ip },
        { "http://192.168.1.1:8443/", Ip },
        { "http://172.16.0.1/", Ip },
        { "http://100.64.0.1/", Ip },
        { "http://169.254.169.254/latest/meta-data/", Ip },
        { "http://0xa9fea9fe/", Ip },
        { "http://2852039166/", Ip },
        { "http://0251.0376.0251.0376/", Ip },
        { "http://169.254.43518/", Ip },
        { "http://8.8.8.8/", Ip },
        { "http://127.0.0.1./", Ip },
        { "http://1.2.3.4.5/", Ip },
        { "http://256.0.0.1/", Ip },
        { "http://example.0x10/", Ip },
        { "http://example.123/", Ip },
        // IPv6 and IPv4 inside it
        { "http://[::1]/", Ip },
        { "http://[::1]:8080/", Ip },
        { "http://[0:0:0:0:0:0:0:1]/", Ip },
        { "http://[::]/", Ip },
        { "http://[::ffff:127.0.0.1]/", Ip },
        { "http://[::ffff:7f00:1]/", Ip },
        { "http://[::ffff:169.254.169.254]/", Ip },
        { "http://[::127.0.0.1]/", Ip },
        { "http://[64:ff9b::a9fe:a9fe]/", Ip },
        { "http://[2002:7f00:1::]/", Ip },
        { "http://[fd00::1]/", Ip },
        { "http://[2001:db8::1]/", Ip },
        { "http://[2606:4700::1]/", Ip },
        { "http://[fe80::1%25eth0]/", Host },
        // localhost and names under it
        { "http://localhost/", Local },
        { "http://localhost:8080/", Local },
        { "https://localhost/", Local },
        { "http://LOCALHOST/", Local },
        { "http://LocalHost:5080/v1/", Local },
        { "http://localhost./", Local },
        { "http://api.localhost/", Local },
        { "http://a.b.localhost./", Local },
        { "http://LOCALHOST.localhost/", Local },
        // Unicode spellings: UTS #46 maps them to the ASCII above (the first three were saved before)
        { "http://１６９.２５４.１６９.２５４/", Ip },
        { "http://②⑤⑤.②⑤⑤.②⑤⑤.②⑤⑤/", Ip },
        { "http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", Local },
        { "http://１２７.０.０.１/", Ip },
        { "http://１６９.２５４.１６９.２５４:80/", Ip },
        { "http://127。0。0。1/", Ip },
        { "http://127．0．0．1/", Ip },
        { "http://127｡0｡0｡1/", Ip },
        { "http://2130706433。/", Ip },
        { "http://𝟏𝟐𝟕.0.0.1/", Ip },
        { "http://𝟙𝟚𝟟.𝟘.𝟘.𝟙/", Ip },
        { "http://①②⑦.⓪.⓪.①/", Ip },
        { "http://⒈⒉⒎/", Host },
        { "http://0x７f000001/", Ip },
        { "http://０ｘ７ｆ.1/", Ip },
        { "http://169.254.169.254\u00AD/", Ip },
        { "http://1\u200B27.0.0.1/", Ip },
        { "http://1\uFE0F27.0.0.1/", Ip },
        { "http://ＬＯＣＡＬＨＯＳＴ/", Local },
        { "http://ｌｏｃａｌｈｏｓｔ/", Local },
        { "http://ｌｏｃａｌｈｏｓｔ．/", Local },
        { "http://locａlhost:8080/", Local },
        { "http://loc\u00ADalhost/", Local },
        { "http://local\u200Bhost/", Local },
        { "http://𝐥𝐨𝐜𝐚𝐥𝐡𝐨𝐬𝐭/", Local },
        { "http://𝓁𝑜𝒸𝒶𝓁𝒽𝑜𝓈𝓉/", Local },
        { "http://ℓocalhost/", Local },
        { "http://api.ⓛⓞⓒⓐⓛⓗⓞⓢⓣ/", Local },
        { "http://localhost。/", Local },
        // Unicode that maps to characters a host cannot have, or that UTS #46 disallows: refused, not guessed at
        { "http://loc\u200Dalhost/", Host },
        { "http://⑴⑵⑺.0.0.1/", Host },
        { "http://127.0.0.1：80/", Ip },
        { "http://example.com＠127.0.0.1/", Host },
        { "http://127.0.0.1％2f.example/", Host },
        { "http://exa\u200Emple.com/", Host },
        { "http://bu\u0308cher.example/", Host },
        // user info, backslashes, percent-encoding, schemes, shapes
        { "https://user:pass@example.com/", UrlRule.UserInfo },
        { "https://user@example.com/", UrlRule.UserInfo },
        { "https://example.com@127.0.0.1/", UrlRule.UserInfo },
        { "http://127.0.0.1:80@example.com/", UrlRule.UserInfo },
        { "http://example.com\\@127.0.0.1/", Bad },
        { "http://127.0.0.1\\@example.com/", Bad },
        { "http:\\\\127.0.0.1\\", Bad },
        { "http://%31%32%37.0.0.1/", Host },
        { "http://127.0.0.1%00.example.com/", Host },
        { "http://127.0.0.1%2f.example/", Host },
        { "ftp://example.com/", UrlRule.Scheme },
        { "file:///etc/passwd", UrlRule.Scheme },
        { "gopher://127.0.0.1:6379/_", UrlRule.Scheme },
        { "javascript:alert(1)", UrlRule.Scheme },
        { "data:text/plain,hi", UrlRule.Scheme },
        { "relative/path", Bad },
        { "/etc/passwd", UrlRule.Scheme },
        { "http:/127.0.0.1/", Bad },
        { "http:127.0.0.1", Bad },
        { "//127.0.0.1/", UrlRule.Scheme },
        { "http://127.0.0.1../", Bad },
        { "http://.127.0.0.1/", Bad },
        { "http://[::1/", Bad },
        { "http://[v1.x]/", Bad },
        { "", UrlRule.Required },
        { "https://exa mple.com/", Bad },
        { "https://example.com\u3000/", Bad },
    };

    public static TheoryData<string, string> Accepted => new()
    {
        { "https://hooks.slack.com/services/T000/B000/XXXX", "hooks.slack.com" },
        { "https://api.github.com/repos/acme/ml/dispatches", "api.github.com" },
        { "http://hooks.example.com:8080/x?y=1#z", "hooks.example.com" },
        { "https://1password.example/", "1password.example" },
        { "https://example.com./trailing-dot", "example.com." },
        { "https://my_hook.example.com/", "my_hook.example.com" },
        { "https://127.0.0.1.example.com/", "127.0.0.1.example.com" },
        { "https://localhost.example.com/", "localhost.example.com" },
        { "https://mylocalhost/", "mylocalhost" },
        { "https://HOOKS.Example.COM/", "hooks.example.com" },
        { "https://xn--bcher-kva.example/", "xn--bcher-kva.example" },
        { "https://bücher.example/", "xn--bcher-kva.example" },
        { "https://BÜCHER.example/", "xn--bcher-kva.example" },
        { "https://münchen.de/hook", "xn--mnchen-3ya.de" },
        { "https://例え.テスト/", "xn--r8jz45g.xn--zckzah" },
        { "https://ｅｘａｍｐｌｅ.com/", "example.com" },
        { "https://example。com/", "example.com" },
        { "https://exa\u00ADmple.com/", "example.com" },
    };

    private static readonly AddressPolicy[] AllowLists = [AddressPolicy.Parse(""), AddressPolicy.Parse("127.0.0.0/8,::1/128")];

    /// <summary>Answers every name with loopback (what a hostile DNS would do), and counts the lookups.</summary>
    private sealed class EverythingIsLoopback : IHostResolver
    {
        public int Lookups;

        public Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct)
        {
            Interlocked.Increment(ref Lookups);
            return Task.FromResult(new[] { IPAddress.Loopback });
        }
    }

    [Fact]
    public void Should_cover_at_least_eighty_spellings() => Assert.True(Refused.Count >= 80, $"{Refused.Count} refused spellings");

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task Should_refuse_a_url_naming_the_rule_whatever_the_allow_list(string url, UrlRule rule)
    {
        var refusal = UrlPolicy.Check(url);
        Assert.NotNull(refusal);
        Assert.Equal(rule, refusal.Rule);
        var words = rule switch
        {
            UrlRule.IpLiteral => "IP address literal",
            UrlRule.Localhost => "is localhost",
            UrlRule.UserInfo => "user info",
            UrlRule.Scheme => "scheme",
            UrlRule.Required => "required",
            _ => "",
        };
        Assert.Contains(words, refusal.Message, StringComparison.Ordinal);

        // The send-time guard applies the same rule before any lookup, whether or not loopback is allow-listed.
        foreach (var allowList in AllowLists)
        {
            var resolver = new EverythingIsLoopback();
            var atSend = await new WebhookDestination(allowList, resolver).CheckAsync(url, CancellationToken.None);
            Assert.True(atSend.Refused);
            Assert.Null(atSend.Target);
            Assert.Equal($"refused by the URL rule: {refusal.Message}", atSend.Error);
            Assert.Equal(0, resolver.Lookups);
        }
    }

    [Theory]
    [MemberData(nameof(Accepted))]
    public async Task Should_accept_a_dns_name_and_send_to_its_ascii_form(string url, string host)
    {
        Assert.Null(UrlPolicy.Check(url, out var target));
        Assert.Equal(host, target!.IdnHost);

        // A name is admitted by the allow-list only through the addresses it resolves to.
        var allowed = await new WebhookDestination(AllowLists[1], new EverythingIsLoopback()).CheckAsync(url, CancellationToken.None);
        Assert.Equal(host, allowed.Target?.IdnHost);
        var refused = await new WebhookDestination(AllowLists[0], new EverythingIsLoopback()).CheckAsync(url, CancellationToken.None);
        Assert.True(refused.Refused);
        Assert.Equal($"refused by the SSRF guard: {host} resolves to 127.0.0.1 (loopback address), which is not in the allow-list (Webhooks:AllowedCidrs)", refused.Error);
    }

    [Fact]
    public void Should_accept_this_machines_host_name()
    {
        var name = Dns.GetHostName();
        Assert.Null(UrlPolicy.Check($"http://{name}:5000/hook", out var target));
        Assert.Equal(name.ToLowerInvariant(), target!.IdnHost);
    }

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1")]
    [InlineData("2130706433", "127.0.0.1")]
    [InlineData("0x7f000001", "127.0.0.1")]
    [InlineData("0177.0.0.1", "127.0.0.1")]
    [InlineData("127.1", "127.0.0.1")]
    [InlineData("10.1.65535", "10.1.255.255")]
    [InlineData("0xa9.0xfe.0xa9.0xfe", "169.254.169.254")]
    public void Should_read_every_ipv4_spelling_like_inet_aton(string host, string expected) =>
        Assert.Equal(IPAddress.Parse(expected), UrlPolicy.ParseIPv4(host.Split('.')));
}
