using System.Security.Cryptography;
using System.Text;
using Automations.Core.Secrets;

namespace Automations.Core.Tests;

/// <summary>
/// Team secrets at rest (<see cref="SecretCipher"/>: AES-256-GCM, a 12-byte nonce, a 16-byte tag, and the secret's
/// identity as associated data), checked against values made outside this code: a bug shared by encryption and
/// decryption (a wrong key, nonce, tag or associated data on both sides) would pass a round trip, not these.
/// </summary>
[Trait("Category", "Security")]
public class Encrypting_secrets
{
    // Test case 16 of the GCM specification (McGrew and Viega, "The Galois/Counter Mode of Operation", the submission to
    // NIST, appendix B): AES-256, a 96-bit IV, associated data, and a plaintext that ends in a partial block.
    private static readonly byte[] Key = Convert.FromHexString("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308");
    private static readonly byte[] Iv = Convert.FromHexString("cafebabefacedbaddecaf888");
    private static readonly byte[] Aad = Convert.FromHexString("feedfacedeadbeeffeedfacedeadbeefabaddad2");
    private static readonly byte[] Plaintext = Convert.FromHexString(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39");
    private static readonly byte[] Ciphertext = Convert.FromHexString(
        "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662");
    private static readonly byte[] Tag = Convert.FromHexString("76fc6ece0f4e1768cddf8853bb2d551b");

    // A secret framed by hand as SecretCipher stores one (nonce, ciphertext and tag apart; associated data
    // "{entity id as 32 hex digits}/{name}" in UTF-8), made with Python's `cryptography` (OpenSSL) AESGCM under the key above:
    //   AESGCM(key).encrypt(nonce, "ghp_supersecret\"value-ü".encode(), b"0b5e1c2a7d4f4e3b9a612f8c5d7e9a10/GH_PAT")
    private static readonly Guid Entity = Guid.Parse("0b5e1c2a-7d4f-4e3b-9a61-2f8c5d7e9a10");
    private const string Name = "GH_PAT";
    private const string Value = "ghp_supersecret\"value-ü";
    private static readonly EncryptedSecret Framed = new("k1", Iv,
        Convert.FromHexString("ec74838a12a70b8723555b05f71410c594fc49facffcf4af"), Convert.FromHexString("d285018ed8fd307fd9664ff8946aaff6"));

    private static SecretCipher Cipher() => new(new Dictionary<string, byte[]> { ["k1"] = Key }, "k1");

    [Fact]
    public void Should_give_the_specifications_ciphertext_and_tag_for_its_test_vector()
    {
        using var aes = new AesGcm(Key, 16);
        var ciphertext = new byte[Plaintext.Length];
        var tag = new byte[16];
        aes.Encrypt(Iv, Plaintext, ciphertext, tag, Aad);
        Assert.Equal(Convert.ToHexStringLower(Ciphertext), Convert.ToHexStringLower(ciphertext));
        Assert.Equal(Convert.ToHexStringLower(Tag), Convert.ToHexStringLower(tag));

        var plaintext = new byte[Ciphertext.Length];
        aes.Decrypt(Iv, Ciphertext, Tag, plaintext, Aad);
        Assert.Equal(Plaintext, plaintext);
    }

    [Fact]
    public void Should_decrypt_a_secret_framed_by_hand()
    {
        Assert.Equal(Value, Cipher().Decrypt(Entity, Name, Framed));
    }

    [Theory]
    [InlineData("0b5e1c2a-7d4f-4e3b-9a61-2f8c5d7e9a10", "GH_PAT2")]
    [InlineData("0b5e1c2a-7d4f-4e3b-9a61-2f8c5d7e9a11", "GH_PAT")]
    public void Should_refuse_the_hand_framed_secret_under_another_identity(string entity, string name)
    {
        Assert.ThrowsAny<CryptographicException>(() => Cipher().Decrypt(Guid.Parse(entity), name, Framed));
    }

    [Fact]
    public void Should_refuse_a_hand_framed_secret_with_a_changed_tag()
    {
        var tag = (byte[])Framed.Tag.Clone();
        tag[^1] ^= 1;
        Assert.ThrowsAny<CryptographicException>(() => Cipher().Decrypt(Entity, Name, Framed with { Tag = tag }));
    }

    [Fact]
    public void Should_encrypt_what_plain_AES_GCM_with_the_documented_associated_data_decrypts()
    {
        var stored = Cipher().Encrypt(Entity, Name, Value);

        Assert.Equal("k1", stored.KeyId);
        Assert.Equal(12, stored.Nonce.Length);
        Assert.Equal(16, stored.Tag.Length);
        using var aes = new AesGcm(Key, 16);
        var plaintext = new byte[stored.Ciphertext.Length];
        aes.Decrypt(stored.Nonce, stored.Ciphertext, stored.Tag, plaintext, Encoding.UTF8.GetBytes("0b5e1c2a7d4f4e3b9a612f8c5d7e9a10/GH_PAT"));
        Assert.Equal(Value, Encoding.UTF8.GetString(plaintext));
    }
}
