using Automations.Api.Secrets;
using Automations.Core.Secrets;
using Microsoft.Extensions.Configuration;

namespace Automations.Api.Tests;

public class Reading_master_keys
{
    private static IConfiguration Config(params (string Key, string Value)[] values) =>
        new ConfigurationBuilder().AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value))).Build();

    private static readonly string K1 = SecretCipher.NewMasterKey();
    private static readonly string K2 = SecretCipher.NewMasterKey();

    [Fact]
    public void Should_refuse_to_run_without_a_key_outside_Development() =>
        Assert.Throws<InvalidOperationException>(() => MasterKeys.FromConfiguration(Config(), isDevelopment: false));

    [Fact]
    public void Should_run_without_secrets_in_Development() =>
        Assert.Null(MasterKeys.FromConfiguration(Config(), isDevelopment: true).Cipher);

    [Fact]
    public void Should_make_a_single_key_active() =>
        Assert.Equal("k1", MasterKeys.FromConfiguration(Config(("Secrets:MasterKeys:k1", K1)), false).Cipher!.ActiveKeyId);

    [Theory]
    [InlineData(null, "Secrets:ActiveKeyId")]
    [InlineData("k9", "k9")]
    public void Should_need_a_configured_active_key_when_there_are_several(string? active, string message)
    {
        var values = new List<(string, string)> { ("Secrets:MasterKeys:k1", K1), ("Secrets:MasterKeys:k2", K2) };
        if (active is not null) values.Add(("Secrets:ActiveKeyId", active));
        var ex = Assert.ThrowsAny<Exception>(() => MasterKeys.FromConfiguration(Config([.. values]), false));
        Assert.Contains(message, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("not base64!")]
    [InlineData("AAAA")]
    public void Should_refuse_a_key_that_is_not_32_bytes_of_base64(string key) =>
        Assert.ThrowsAny<Exception>(() => MasterKeys.FromConfiguration(Config(("Secrets:MasterKeys:k1", key)), false));
}
