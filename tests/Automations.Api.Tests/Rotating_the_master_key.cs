using System.Net;
using Automations.Core.Secrets;
using Automations.Testing;
using Dapper;

namespace Automations.Api.Tests;

public class Rotating_the_master_key(ApiFixture fx) : IClassFixture<ApiFixture>
{
    private sealed class Row
    {
        public string Name { get; set; } = "";
        public string KeyId { get; set; } = "";
        public byte[] Nonce { get; set; } = [];
        public byte[] Ciphertext { get; set; } = [];
        public byte[] Tag { get; set; } = [];
    }

    [Fact]
    public async Task Should_reencrypt_every_secret_under_the_new_key_without_losing_one()
    {
        var values = Enumerable.Range(0, 5).ToDictionary(i => $"ROTATE_{i}", i => $"value-{i}-{Guid.NewGuid():N}");
        foreach (var (name, value) in values)
            Assert.Equal(HttpStatusCode.Created, (await fx.PostAsync("/v1/entities/acme/secrets", new { name, value })).Status);

        // The operator adds key "k2" and makes it active; the old key stays loaded during the rotation.
        var newKey = SecretCipher.NewMasterKey();
        var config = fx.ServiceConfiguration();
        config["Secrets:MasterKeys:k2"] = newKey;
        config["Secrets:ActiveKeyId"] = "k2";
        await using (var rotated = await fx.StartApiAsync(config))
        {
            // Still usable through the new host: replace one value, add one.
            Assert.Equal(HttpStatusCode.OK, (await ApiFixture.SendAsync(rotated.Client, HttpMethod.Put, "/v1/entities/acme/secrets/ROTATE_0", new { value = "replaced" }, fx.AdminKey)).StatusCode);
        }
        values["ROTATE_0"] = "replaced";

        await using var c = await fx.DataSource.OpenConnectionAsync();
        var rows = (await c.QueryAsync<Row>(
            "select name as Name, key_id as KeyId, nonce as Nonce, ciphertext as Ciphertext, tag as Tag from control.secrets where name like 'ROTATE_%'")).ToList();
        Assert.Equal(5, rows.Count);
        Assert.All(rows, r => Assert.Equal("k2", r.KeyId));

        // Then the old key is removed: the new key alone decrypts every secret.
        var onlyNew = SecretCipher.FromBase64(new Dictionary<string, string> { ["k2"] = newKey }, "k2");
        foreach (var r in rows)
            Assert.Equal(values[r.Name], onlyNew.Decrypt(fx.AcmeId, r.Name, new EncryptedSecret(r.KeyId, r.Nonce, r.Ciphertext, r.Tag)));
        var oldOnly = SecretCipher.FromBase64(new Dictionary<string, string> { [TestEnvironment.TestMasterKeyId] = TestEnvironment.TestMasterKey }, TestEnvironment.TestMasterKeyId);
        Assert.ThrowsAny<System.Security.Cryptography.CryptographicException>(() =>
            oldOnly.Decrypt(fx.AcmeId, rows[0].Name, new EncryptedSecret(rows[0].KeyId, rows[0].Nonce, rows[0].Ciphertext, rows[0].Tag)));
        Assert.DoesNotContain(fx.Logs.Lines, l => values.Values.Any(v => l.Contains(v, StringComparison.Ordinal)));
    }

    [Fact]
    public void Should_refuse_to_start_outside_Development_without_a_master_key()
    {
        var config = fx.ServiceConfiguration();
        config.Remove($"Secrets:MasterKeys:{TestEnvironment.TestMasterKeyId}");
        config.Remove("Secrets:ActiveKeyId");
        var args = config.Select(kv => $"--{kv.Key}={kv.Value}").Append("--environment=Production").ToArray();
        MassTransit.LogContext.Current = null;
        var ex = Assert.Throws<InvalidOperationException>(() => Program.Build(args));
        Assert.Contains("Secrets:MasterKeys", ex.Message, StringComparison.Ordinal);
    }
}
