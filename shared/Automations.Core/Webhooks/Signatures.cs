using System.Security.Cryptography;
using System.Text;

namespace Automations.Core.Webhooks;

/// <summary>The two signatures a webhook request carries, and their verification (for receivers and tests).</summary>
public static class Signatures
{
    public const string StandardWebhooksSecretPrefix = "whsec_";

    /// <summary>X-Wandb-Signature: base64(HMAC-SHA256(key = secret's UTF-8 bytes, message = exact body bytes)), as `openssl dgst -sha256 -hmac "$SECRET" -binary | base64`.</summary>
    public static string Wandb(string secret, ReadOnlySpan<byte> body) =>
        Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), body));

    /// <summary>
    /// Standard Webhooks `webhook-signature`: "v1," + base64(HMAC-SHA256 over "{id}.{timestamp}.{body}"); the key is the
    /// base64-decoded part after "whsec_" when the secret has that prefix, else the secret's UTF-8 bytes.
    /// </summary>
    public static string StandardWebhooks(string secret, string messageId, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes($"{messageId}.{timestamp}.");
        var content = new byte[prefix.Length + body.Length];
        prefix.CopyTo(content, 0);
        body.CopyTo(content.AsSpan(prefix.Length));
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(StandardWebhooksKey(secret), content));
    }

    public static byte[] StandardWebhooksKey(string secret)
    {
        if (secret.StartsWith(StandardWebhooksSecretPrefix, StringComparison.Ordinal))
        {
            try
            {
                return Convert.FromBase64String(secret[StandardWebhooksSecretPrefix.Length..]);
            }
            catch (FormatException)
            {
                // Not base64 after all: fall back to the raw secret, like a secret without the prefix.
            }
        }
        return Encoding.UTF8.GetBytes(secret);
    }

    /// <summary>Constant-time check of an X-Wandb-Signature header.</summary>
    public static bool VerifyWandb(string secret, ReadOnlySpan<byte> body, string? header) =>
        header is not null && FixedTimeEquals(Wandb(secret, body), header.Trim());

    /// <summary>Checks a `webhook-signature` header, which may list several space-separated "v1,..." signatures.</summary>
    public static bool VerifyStandardWebhooks(string secret, string messageId, long timestamp, ReadOnlySpan<byte> body, string? header)
    {
        if (header is null) return false;
        var expected = StandardWebhooks(secret, messageId, timestamp, body);
        foreach (var candidate in header.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            if (FixedTimeEquals(expected, candidate)) return true;
        return false;
    }

    private static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(a), Encoding.ASCII.GetBytes(b));
}
