using System.Net;
using Automations.Core.Webhooks;

namespace Automations.Core.Tests;

public class Guarding_webhook_addresses
{
    [Theory]
    [InlineData("127.0.0.1", "loopback")]
    [InlineData("127.255.255.254", "loopback")]
    [InlineData("::1", "loopback")]
    [InlineData("10.1.2.3", "private")]
    [InlineData("172.16.0.1", "private")]
    [InlineData("172.31.255.255", "private")]
    [InlineData("192.168.1.1", "private")]
    [InlineData("fc00::1", "private")]
    [InlineData("fd12:3456::1", "private")]
    [InlineData("fd00:ec2::254", "private")]
    [InlineData("169.254.1.1", "link-local")]
    [InlineData("169.254.169.254", "cloud metadata")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("100.64.0.1", "CGNAT")]
    [InlineData("100.127.255.255", "CGNAT")]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("::", "unspecified")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("239.255.255.250", "multicast")]
    [InlineData("ff02::1", "multicast")]
    [InlineData("240.0.0.1", "reserved")]
    [InlineData("255.255.255.255", "broadcast")]
    [InlineData("192.0.2.10", "reserved")]
    [InlineData("198.18.0.1", "reserved")]
    [InlineData("2001:db8::1", "reserved")]
    [InlineData("fec0::1", "reserved")]
    [InlineData("::ffff:127.0.0.1", "IPv4-mapped loopback")]
    [InlineData("::ffff:10.0.0.1", "IPv4-mapped private")]
    [InlineData("::ffff:169.254.169.254", "IPv4-mapped cloud metadata")]
    [InlineData("::127.0.0.1", "IPv4-compatible loopback")]
    [InlineData("2002:7f00:1::", "6to4 loopback")]
    [InlineData("2002:a9fe:a9fe::1", "6to4 cloud metadata")]
    [InlineData("2002:c0a8:0101::1", "6to4 private")]
    [InlineData("64:ff9b::a00:1", "NAT64 private")]
    [InlineData("64:ff9b::7f00:1", "NAT64 loopback")]
    [InlineData("64:ff9b:1::1", "private")]
    public void Should_refuse_a_non_public_address(string address, string kind)
    {
        Assert.Equal(kind, AddressPolicy.Classify(IPAddress.Parse(address)));
        Assert.Equal($"{IPAddress.Parse(address)} is a {kind} address", AddressPolicy.Default.Check(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("93.184.215.14")]
    [InlineData("140.82.112.3")]
    [InlineData("8.8.8.8")]
    [InlineData("100.63.255.255")]
    [InlineData("172.32.0.1")]
    [InlineData("2606:4700::6810:84e5")]
    [InlineData("::ffff:140.82.112.3")]
    [InlineData("2002:8c52:7003::1")]
    [InlineData("64:ff9b::8c52:7003")]
    public void Should_allow_a_public_address(string address)
    {
        Assert.Null(AddressPolicy.Classify(IPAddress.Parse(address)));
        Assert.Null(AddressPolicy.Default.Check(IPAddress.Parse(address)));
    }

    [Theory]
    [InlineData("127.0.0.0/8,::1/128", "127.0.0.1", true)]
    [InlineData("127.0.0.0/8,::1/128", "::1", true)]
    [InlineData("127.0.0.0/8,::1/128", "::ffff:127.0.0.1", true)]
    [InlineData("127.0.0.0/8,::1/128", "10.0.0.1", false)]
    [InlineData("10.20.0.0/16", "10.20.3.4", true)]
    [InlineData("10.20.0.0/16", "10.21.3.4", false)]
    [InlineData("", "127.0.0.1", false)]
    [InlineData(null, "169.254.169.254", false)]
    public void Should_let_the_allow_list_through_and_nothing_else(string? cidrs, string address, bool allowed)
    {
        Assert.Equal(allowed, AddressPolicy.Parse(cidrs).Check(IPAddress.Parse(address)) is null);
    }

    [Fact]
    public void Should_refuse_an_allow_list_entry_that_is_not_a_cidr() =>
        Assert.Throws<FormatException>(() => AddressPolicy.Parse("10.0.0.0/8,not-a-cidr"));
}
