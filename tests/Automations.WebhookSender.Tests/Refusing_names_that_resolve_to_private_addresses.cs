using System.Net;
using Automations.Core.Webhooks;
using Automations.Testing;
using Automations.WebhookSender.Sending;
using Microsoft.Extensions.Options;

namespace Automations.WebhookSender.Tests;

/// <summary>
/// DNS names that a hostile zone points at loopback, private, link-local or metadata addresses, directly or hidden in IPv6
/// forms. The sender resolves them through a name table (the resolver seam), drops every address that is neither public nor
/// allow-listed, and refuses a name with none left; with loopback allow-listed, the
/// loopback name does reach the local receiver (the control).
/// </summary>
[Trait("Category", "Security")]
public class Refusing_names_that_resolve_to_private_addresses(Refusing_names_that_resolve_to_private_addresses.Fixture fx)
    : IClassFixture<Refusing_names_that_resolve_to_private_addresses.Fixture>
{
    private static IPAddress[] A(params string[] addresses) => [.. addresses.Select(IPAddress.Parse)];

    private static readonly Dictionary<string, IPAddress[]> Zone = new()
    {
        ["loopback.attacker.test"] = A("127.0.0.1"),
        ["loopback-other.attacker.test"] = A("127.3.4.5"),
        ["loopback6.attacker.test"] = A("::1"),
        ["mapped-loopback.attacker.test"] = A("::ffff:127.0.0.1"),
        ["ten.attacker.test"] = A("10.0.0.1"),
        ["home.attacker.test"] = A("192.168.1.1"),
        ["docker.attacker.test"] = A("172.17.0.1"),
        ["metadata.attacker.test"] = A("169.254.169.254"),
        ["link-local.attacker.test"] = A("169.254.1.1"),
        ["mapped-metadata.attacker.test"] = A("::ffff:169.254.169.254"),
        ["mapped-private.attacker.test"] = A("::ffff:10.0.0.1"),
        ["compatible-loopback.attacker.test"] = A("::127.0.0.1"),
        ["nat64.attacker.test"] = A("64:ff9b::a9fe:a9fe"),
        ["sixtofour.attacker.test"] = A("2002:a9fe:a9fe::1"),
        ["ula.attacker.test"] = A("fd00:ec2::254"),
        ["fe80.attacker.test"] = A("fe80::1"),
        ["cgnat.attacker.test"] = A("100.64.1.1"),
        ["zero.attacker.test"] = A("0.0.0.0"),
        ["unspecified6.attacker.test"] = A("::"),
        ["multicast.attacker.test"] = A("224.0.0.1"),
        ["broadcast.attacker.test"] = A("255.255.255.255"),
        ["private-then-loopback.attacker.test"] = A("10.0.0.1", "127.0.0.1"),
        ["metadata-and-private.attacker.test"] = A("169.254.169.254", "fd00::1"),
    };

    public sealed class Fixture : SenderFixture
    {
        public NameTable Names { get; } = new(Zone);
        public override IHostResolver? Resolver => Names;
    }

    /// <param name="admittedByLoopback">true when the allow-list 127.0.0.0/8, ::1/128 lets the address through.</param>
    [Theory]
    [InlineData("loopback.attacker.test", "127.0.0.1 (loopback address)", true)]
    [InlineData("loopback-other.attacker.test", "127.3.4.5 (loopback address)", true)]
    [InlineData("loopback6.attacker.test", "::1 (loopback address)", true)]
    [InlineData("mapped-loopback.attacker.test", "::ffff:127.0.0.1 (IPv4-mapped loopback address)", true)]
    [InlineData("compatible-loopback.attacker.test", "::127.0.0.1 (IPv4-compatible loopback address)", false)]
    [InlineData("ten.attacker.test", "10.0.0.1 (private address)", false)]
    [InlineData("home.attacker.test", "192.168.1.1 (private address)", false)]
    [InlineData("docker.attacker.test", "172.17.0.1 (private address)", false)]
    [InlineData("metadata.attacker.test", "169.254.169.254 (cloud metadata address)", false)]
    [InlineData("link-local.attacker.test", "169.254.1.1 (link-local address)", false)]
    [InlineData("mapped-metadata.attacker.test", "::ffff:169.254.169.254 (IPv4-mapped cloud metadata address)", false)]
    [InlineData("mapped-private.attacker.test", "::ffff:10.0.0.1 (IPv4-mapped private address)", false)]
    [InlineData("nat64.attacker.test", "64:ff9b::a9fe:a9fe (NAT64 cloud metadata address)", false)]
    [InlineData("sixtofour.attacker.test", "2002:a9fe:a9fe::1 (6to4 cloud metadata address)", false)]
    [InlineData("ula.attacker.test", "fd00:ec2::254 (private address)", false)]
    [InlineData("fe80.attacker.test", "fe80::1 (link-local address)", false)]
    [InlineData("cgnat.attacker.test", "100.64.1.1 (CGNAT address)", false)]
    [InlineData("zero.attacker.test", "0.0.0.0 (unspecified address)", false)]
    [InlineData("unspecified6.attacker.test", ":: (unspecified address)", false)]
    [InlineData("multicast.attacker.test", "224.0.0.1 (multicast address)", false)]
    [InlineData("broadcast.attacker.test", "255.255.255.255 (broadcast address)", false)]
    [InlineData("ＭＥＴＡＤＡＴＡ.attacker.test", "169.254.169.254 (cloud metadata address)", false)]
    [InlineData("metadata。attacker。test", "169.254.169.254 (cloud metadata address)", false)]
    public async Task Should_refuse_a_name_that_resolves_to_a_non_public_address_unless_allow_listed(string name, string refusal, bool admittedByLoopback)
    {
        var path = "/dns/" + Guid.NewGuid().ToString("N");
        var url = $"http://{name}:{new Uri(fx.Receiver.Url(path)).Port}{path}";
        var ascii = name.All(char.IsAscii) ? name : "metadata.attacker.test";

        var closed = await SendAsync(url, "");
        Assert.True(closed.IsRefused, closed.Error);
        Assert.Null(closed.StatusCode);
        Assert.Equal($"refused by the SSRF guard: {ascii} resolves to {refusal}, which is not in the allow-list (Webhooks:AllowedCidrs)", closed.Error);

        var loopback = await SendAsync(url, "127.0.0.0/8,::1/128");
        if (admittedByLoopback)
        {
            // Admitted by the guard; only 127.0.0.1 has the receiver (127.3.4.5 and ::1 are refused by the kernel instead).
            Assert.False(loopback.IsRefused, loopback.Error);
            if (Zone[name].Single().Equals(IPAddress.Loopback))
            {
                Assert.True(loopback.Success, loopback.Error);
                Assert.Single(fx.Receiver.On(path));
            }
        }
        else
        {
            Assert.True(loopback.IsRefused, loopback.Error);
            Assert.Contains(refusal, loopback.Error, StringComparison.Ordinal);
            Assert.Empty(fx.Receiver.On(path));
        }
    }

    [Fact]
    public async Task Should_connect_only_to_the_addresses_that_pass()
    {
        var path = "/dns/" + Guid.NewGuid().ToString("N");
        var port = new Uri(fx.Receiver.Url(path)).Port;

        var closed = await SendAsync($"http://private-then-loopback.attacker.test:{port}{path}", "");
        Assert.Equal("refused by the SSRF guard: private-then-loopback.attacker.test resolves only to addresses outside the allow-list " +
                     "(Webhooks:AllowedCidrs): 10.0.0.1 (private address), 127.0.0.1 (loopback address)", closed.Error);

        // With loopback allow-listed the private address is dropped and the request goes to 127.0.0.1 only.
        var open = await SendAsync($"http://private-then-loopback.attacker.test:{port}{path}", "127.0.0.0/8,::1/128");
        Assert.True(open.Success, open.Error);
        Assert.Single(fx.Receiver.On(path));

        var metadata = await SendAsync($"http://metadata-and-private.attacker.test:{port}{path}", "127.0.0.0/8,::1/128");
        Assert.True(metadata.IsRefused);
        Assert.Contains("169.254.169.254 (cloud metadata address), fd00::1 (private address)", metadata.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_look_up_the_name_a_browser_would_and_never_an_ip_literal()
    {
        await SendAsync("http://ＭＥＴＡＤＡＴＡ。attacker。test/", "");
        Assert.Contains("metadata.attacker.test", fx.Names.Asked);
        var before = fx.Names.Asked.Count;
        await SendAsync("http://169.254.169.254/", "169.254.0.0/16");
        await SendAsync("http://１６９.２５４.１６９.２５４/", "169.254.0.0/16");
        Assert.Equal(before, fx.Names.Asked.Count);
    }

    [Fact]
    public async Task Should_fail_a_delivery_at_once_in_the_running_sender()
    {
        // The hosted sender (allow-list 127.0.0.0/8, ::1/128) uses the same name table through its resolver seam.
        var webhook = await fx.AddWebhookAsync("https://metadata.attacker.test/latest/meta-data/");
        var command = SenderFixture.Command(webhook);
        await fx.PublishAsync(command);
        var delivery = await fx.WaitForStatusAsync(command.CommandId, "failed");
        Assert.Equal(1, delivery.Attempts);
        Assert.Contains("metadata.attacker.test resolves to 169.254.169.254 (cloud metadata address)", delivery.LastError, StringComparison.Ordinal);
    }

    private async Task<SendResult> SendAsync(string url, string allowedCidrs)
    {
        var options = Options.Create(new WebhookOptions { AllowedCidrs = allowedCidrs, Timeout = TimeSpan.FromSeconds(5) });
        using var client = new WebhookClient(options, fx.Names);
        return await client.SendAsync(new WebhookRequest { Url = url, MessageId = Guid.NewGuid(), Body = """{"a":1}""", MaskedBody = """{"a":1}""" }, CancellationToken.None);
    }
}
