using System.Net;
using Automations.Core.Webhooks;

namespace Automations.Core.Tests;

public class Checking_webhook_urls
{
    private static readonly UrlPolicy NoAllowList = UrlPolicy.Empty;
    private static readonly UrlPolicy Loopback = UrlPolicy.Parse("127.0.0.0/8,::1/128");

    [Theory]
    [InlineData("https://api.github.com/repos/acme/ml/dispatches")]
    [InlineData("http://hooks.example.com:8080/x?y=1#z")]
    [InlineData("https://hooks.slack.com/services/T000/B000/XXXX")]
    [InlineData("https://1password.example/")]
    [InlineData("https://xn--bcher-kva.example/")]
    [InlineData("https://example.com./trailing-dot")]
    public void Should_accept_an_http_url_with_a_dns_name(string url) => Assert.Null(NoAllowList.Check(url));

    [Theory]
    [InlineData("http://127.0.0.1/", "IP address literal")]
    [InlineData("http://2130706433/", "IP address literal")]
    [InlineData("http://0x7f000001/", "IP address literal")]
    [InlineData("http://0x7F.0.0.1/", "IP address literal")]
    [InlineData("http://0177.0.0.1/", "IP address literal")]
    [InlineData("http://017700000001/", "IP address literal")]
    [InlineData("http://127.1/", "IP address literal")]
    [InlineData("http://127.0.1/", "IP address literal")]
    [InlineData("http://10.0.0.1:8080/", "IP address literal")]
    [InlineData("http://169.254.169.254/latest/meta-data", "IP address literal")]
    [InlineData("http://0/", "IP address literal")]
    [InlineData("http://127.0.0.1./", "IP address literal")]
    [InlineData("http://8.8.8.8/", "IP address literal")]
    [InlineData("http://[::1]/", "IP address literal")]
    [InlineData("http://[::1]:8080/", "IP address literal")]
    [InlineData("http://[::ffff:127.0.0.1]/", "IP address literal")]
    [InlineData("http://[::ffff:7f00:1]/", "IP address literal")]
    [InlineData("http://[0:0:0:0:0:0:0:1]/", "IP address literal")]
    [InlineData("http://[fe80::1%25eth0]/", "")]
    [InlineData("http://[2001:db8::1]/", "IP address literal")]
    [InlineData("http://1.2.3.4.5/", "not a valid one")]
    [InlineData("http://256.0.0.1/", "not a valid one")]
    [InlineData("http://example.0x10/", "not a valid one")]
    [InlineData("http://localhost/", "localhost")]
    [InlineData("http://LOCALHOST:8080/", "localhost")]
    [InlineData("http://localhost./", "localhost")]
    [InlineData("http://api.localhost/", "localhost")]
    [InlineData("http://a.b.localhost./", "localhost")]
    [InlineData("http://%31%32%37.0.0.1/", "")]
    [InlineData("http://１２７.0.0.1/", "")]
    public void Should_refuse_an_ip_literal_or_localhost(string url, string reason)
    {
        var error = NoAllowList.Check(url);
        Assert.NotNull(error);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ftp://example.com/", "scheme")]
    [InlineData("file:///etc/passwd", "scheme")]
    [InlineData("javascript:alert(1)", "")]
    [InlineData("gopher://example.com/", "scheme")]
    [InlineData("https://user:pass@example.com/", "user info")]
    [InlineData("https://user@example.com/", "user info")]
    [InlineData("https://example.com@127.0.0.1/", "user info")]
    [InlineData("/relative/path", "")]
    [InlineData("", "required")]
    [InlineData("https://exa mple.com/", "whitespace")]
    public void Should_refuse_other_schemes_and_user_info(string url, string reason)
    {
        var error = NoAllowList.Check(url);
        Assert.NotNull(error);
        Assert.Contains(reason, error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("http://127.0.0.1:5000/hook")]
    [InlineData("http://2130706433/")]
    [InlineData("http://127.1/")]
    [InlineData("http://[::1]:5000/")]
    [InlineData("http://[::ffff:127.0.0.1]/")]
    [InlineData("http://localhost:5000/")]
    public void Should_accept_a_literal_the_operator_allow_list_contains(string url) => Assert.Null(Loopback.Check(url));

    [Theory]
    [InlineData("http://10.0.0.1/")]
    [InlineData("http://[2001:db8::1]/")]
    [InlineData("http://169.254.169.254/")]
    public void Should_still_refuse_a_literal_outside_the_allow_list(string url) => Assert.NotNull(Loopback.Check(url));

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

    [Fact]
    public void Should_refuse_an_allow_list_entry_that_is_not_a_cidr() =>
        Assert.Throws<FormatException>(() => UrlPolicy.Parse("10.0.0.0/8,not-a-cidr"));
}
