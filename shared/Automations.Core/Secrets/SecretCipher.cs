using System.Security.Cryptography;
using System.Text;

namespace Automations.Core.Secrets;

/// <summary>A secret value encrypted at rest: AES-256-GCM under the master key named by <see cref="KeyId"/>.</summary>
public sealed record EncryptedSecret(string KeyId, byte[] Nonce, byte[] Ciphertext, byte[] Tag);

/// <summary>
/// AES-256-GCM with a 96-bit random nonce per encryption and the secret's identity (entity id and name) as associated
/// data, so a ciphertext copied onto another row does not decrypt. Several master keys may be loaded (rotation):
/// new values use the active one, old ones decrypt with the key their row names.
/// </summary>
public sealed class SecretCipher
{
    private readonly IReadOnlyDictionary<string, byte[]> _keys;

    public SecretCipher(IReadOnlyDictionary<string, byte[]> keys, string activeKeyId)
    {
        foreach (var (id, key) in keys)
            if (key.Length != 32) throw new ArgumentException($"Master key '{id}' must be 32 bytes (base64 of 32 random bytes), not {key.Length}");
        if (!keys.ContainsKey(activeKeyId)) throw new ArgumentException($"The active master key '{activeKeyId}' is not among the configured keys");
        _keys = keys;
        ActiveKeyId = activeKeyId;
    }

    public string ActiveKeyId { get; }

    /// <summary>From configuration values: keys as `id` -> base64.</summary>
    public static SecretCipher FromBase64(IReadOnlyDictionary<string, string> base64Keys, string activeKeyId) =>
        new(base64Keys.ToDictionary(kv => kv.Key, kv => Convert.FromBase64String(kv.Value)), activeKeyId);

    public static string NewMasterKey() => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));

    public EncryptedSecret Encrypt(Guid entityId, string name, string value)
    {
        var nonce = RandomNumberGenerator.GetBytes(12);
        var plaintext = Encoding.UTF8.GetBytes(value);
        var ciphertext = new byte[plaintext.Length];
        var tag = new byte[16];
        using var aes = new AesGcm(_keys[ActiveKeyId], 16);
        aes.Encrypt(nonce, plaintext, ciphertext, tag, AssociatedData(entityId, name));
        CryptographicOperations.ZeroMemory(plaintext);
        return new EncryptedSecret(ActiveKeyId, nonce, ciphertext, tag);
    }

    public string Decrypt(Guid entityId, string name, EncryptedSecret secret)
    {
        if (!_keys.TryGetValue(secret.KeyId, out var key))
            throw new CryptographicException($"Master key '{secret.KeyId}' is not configured; cannot decrypt secret '{name}'");
        var plaintext = new byte[secret.Ciphertext.Length];
        using var aes = new AesGcm(key, 16);
        aes.Decrypt(secret.Nonce, secret.Ciphertext, secret.Tag, plaintext, AssociatedData(entityId, name));
        return Encoding.UTF8.GetString(plaintext);
    }

    private static byte[] AssociatedData(Guid entityId, string name) => Encoding.UTF8.GetBytes($"{entityId:N}/{name}");
}
