using System.Text;
using Automations.Core.Webhooks;

namespace Automations.Core.Tests;

public class Signing_webhooks
{
    // Vectors computed with: echo -n "$BODY" | openssl dgst -sha256 -hmac "$SECRET" -binary | base64
    [Theory]
    [InlineData("s3cr3t", """{"event":"LINK_ARTIFACT","n":1}""", "5YTPW1bccWPOfKeIiqK/C2BiH3xx8y0ev4Dy356f4jw=")]
    [InlineData("key", "The quick brown fox jumps over the lazy dog", "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=")]
    public void Should_compute_the_wandb_signature_like_openssl(string secret, string body, string expected)
    {
        Assert.Equal(expected, Signatures.Wandb(secret, Encoding.UTF8.GetBytes(body)));
        Assert.True(Signatures.VerifyWandb(secret, Encoding.UTF8.GetBytes(body), expected));
        Assert.False(Signatures.VerifyWandb(secret, Encoding.UTF8.GetBytes(body + " "), expected));
    }

    [Theory]
    // The Standard Webhooks specification's own example.
    [InlineData("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330L, """{"test": 2432232314}""",
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")]
    public void Should_compute_the_standard_webhooks_signature_of_the_spec_example(string secret, string id, long timestamp, string body, string expected)
    {
        Assert.Equal(expected, Signatures.StandardWebhooks(secret, id, timestamp, Encoding.UTF8.GetBytes(body)));
        Assert.True(Signatures.VerifyStandardWebhooks(secret, id, timestamp, Encoding.UTF8.GetBytes(body), "v1,bogus " + expected));
        Assert.False(Signatures.VerifyStandardWebhooks(secret, id, timestamp + 1, Encoding.UTF8.GetBytes(body), expected));
    }

    [Fact]
    public void Should_use_the_secret_bytes_as_the_key_without_the_whsec_prefix()
    {
        // Without the prefix the key is the UTF-8 secret: the same HMAC as openssl over "{id}.{timestamp}.{body}".
        var expected = "v1," + Signatures.Wandb("s3cr3t", Encoding.UTF8.GetBytes("""msg_1.1614265330.{"a":1}"""));
        Assert.Equal(expected, Signatures.StandardWebhooks("s3cr3t", "msg_1", 1614265330, Encoding.UTF8.GetBytes("""{"a":1}""")));
    }
}
