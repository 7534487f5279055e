using Automations.Core.Secrets;

namespace Automations.Api.Secrets;

/// <summary>
/// The team-secret cipher from configuration: `Secrets:MasterKeys:&lt;id&gt;` (base64 of 32 bytes, several during a
/// rotation) and `Secrets:ActiveKeyId` (may be omitted when there is one key). Outside Development the service refuses
/// to start without a key; in Development without one, the secrets endpoints answer 503.
/// </summary>
public sealed class MasterKeys(SecretCipher? cipher)
{
    public SecretCipher? Cipher { get; } = cipher;

    public static MasterKeys FromConfiguration(IConfiguration configuration, bool isDevelopment)
    {
        var keys = configuration.GetSection("Secrets:MasterKeys").GetChildren()
            .Where(s => !string.IsNullOrWhiteSpace(s.Value))
            .ToDictionary(s => s.Key, s => s.Value!, StringComparer.Ordinal);
        if (keys.Count == 0)
        {
            if (isDevelopment) return new MasterKeys(null);
            throw new InvalidOperationException(
                "No master key for team secrets: set Secrets:MasterKeys:<id> (base64 of 32 random bytes) and Secrets:ActiveKeyId. " +
                "The service does not start without one outside Development.");
        }
        var active = configuration["Secrets:ActiveKeyId"];
        if (string.IsNullOrWhiteSpace(active))
            active = keys.Count == 1 ? keys.Keys.Single() : throw new InvalidOperationException("Several master keys are configured: set Secrets:ActiveKeyId");
        try
        {
            return new MasterKeys(SecretCipher.FromBase64(keys, active));
        }
        catch (FormatException)
        {
            throw new InvalidOperationException("A Secrets:MasterKeys value is not base64");
        }
    }
}
