using System.Security.Cryptography;
using Automations.Core.Secrets;
using Automations.Persistence.Control;
using Dapper;
using Npgsql;

namespace Automations.Api.Secrets;

/// <summary>
/// Master key rotation: re-encrypts every secret stored under a key id other than the active one. Rows are taken with
/// `for update skip locked` in small batches, so several replicas starting together share the work safely.
/// Runs at start (Secrets:RotateOnStart, default true) and as the `rotate-secrets` command.
/// </summary>
public static class SecretRotation
{
    private sealed class Row
    {
        public Guid Id { get; set; }
        public Guid EntityId { get; set; }
        public string Name { get; set; } = "";
        public string KeyId { get; set; } = "";
        public byte[] Nonce { get; set; } = [];
        public byte[] Ciphertext { get; set; } = [];
        public byte[] Tag { get; set; } = [];
    }

    /// <returns>How many secrets were re-encrypted.</returns>
    public static async Task<int> RotateAsync(NpgsqlDataSource db, SecretCipher cipher, ILogger logger, CancellationToken ct = default)
    {
        var rotated = 0;
        var failed = new List<Guid>();
        while (true)
        {
            await using var c = await db.OpenConnectionAsync(ct);
            await using var tx = await c.BeginTransactionAsync(ct);
            var rows = (await c.QueryAsync<Row>(
                """
                select id as Id, entity_id as EntityId, name as Name, key_id as KeyId, nonce as Nonce, ciphertext as Ciphertext, tag as Tag
                from control.secrets where key_id <> @active and not (id = any(@failed))
                order by id limit 100 for update skip locked
                """, new { active = cipher.ActiveKeyId, failed = failed.ToArray() }, tx)).ToList();
            if (rows.Count == 0) break;
            foreach (var row in rows)
            {
                string value;
                try
                {
                    value = cipher.Decrypt(row.EntityId, row.Name, new EncryptedSecret(row.KeyId, row.Nonce, row.Ciphertext, row.Tag));
                }
                catch (CryptographicException)
                {
                    logger.LogError("Secret {SecretId} ({SecretName}) is under master key {KeyId}, which is not configured or does not decrypt it; left as is",
                        row.Id, row.Name, row.KeyId);
                    failed.Add(row.Id);
                    continue;
                }
                var e = cipher.Encrypt(row.EntityId, row.Name, value);
                await c.ExecuteAsync(
                    "update control.secrets set key_id = @KeyId, nonce = @Nonce, ciphertext = @Ciphertext, tag = @Tag where id = @id",
                    new { e.KeyId, e.Nonce, e.Ciphertext, e.Tag, id = row.Id }, tx);
                rotated++;
            }
            await tx.CommitAsync(ct);
        }
        rotated += await RotateIntegrationUrlsAsync(db, cipher, logger, ct);
        if (rotated > 0) logger.LogInformation("Re-encrypted {Count} secrets under master key {KeyId}", rotated, cipher.ActiveKeyId);
        return rotated;
    }

    /// <summary>The encrypted URLs of notification integrations (control.webhooks), the same way.</summary>
    private static async Task<int> RotateIntegrationUrlsAsync(NpgsqlDataSource db, SecretCipher cipher, ILogger logger, CancellationToken ct)
    {
        var rotated = 0;
        var failed = new List<Guid>();
        while (true)
        {
            await using var c = await db.OpenConnectionAsync(ct);
            await using var tx = await c.BeginTransactionAsync(ct);
            var rows = (await c.QueryAsync<Row>(
                """
                select id as Id, entity_id as EntityId, name as Name, url_key_id as KeyId, url_nonce as Nonce, url_ciphertext as Ciphertext, url_tag as Tag
                from control.webhooks where url_ciphertext is not null and url_key_id <> @active and not (id = any(@failed))
                order by id limit 100 for update skip locked
                """, new { active = cipher.ActiveKeyId, failed = failed.ToArray() }, tx)).ToList();
            if (rows.Count == 0) break;
            foreach (var row in rows)
            {
                var name = WebhookTarget.SecretUrlName(row.Id);
                string value;
                try
                {
                    value = cipher.Decrypt(row.EntityId, name, new EncryptedSecret(row.KeyId, row.Nonce, row.Ciphertext, row.Tag));
                }
                catch (CryptographicException)
                {
                    logger.LogError("The URL of integration {WebhookId} ({Name}) is under master key {KeyId}, which is not configured or does not decrypt it; left as is",
                        row.Id, row.Name, row.KeyId);
                    failed.Add(row.Id);
                    continue;
                }
                var e = cipher.Encrypt(row.EntityId, name, value);
                await c.ExecuteAsync(
                    "update control.webhooks set url_key_id = @KeyId, url_nonce = @Nonce, url_ciphertext = @Ciphertext, url_tag = @Tag where id = @id",
                    new { e.KeyId, e.Nonce, e.Ciphertext, e.Tag, id = row.Id }, tx);
                rotated++;
            }
            await tx.CommitAsync(ct);
        }
        return rotated;
    }
}

/// <summary>Rotation at start, before the service takes requests.</summary>
public sealed class RotateSecretsOnStart(NpgsqlDataSource db, MasterKeys keys, ILogger<RotateSecretsOnStart> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (keys.Cipher is not null) await SecretRotation.RotateAsync(db, keys.Cipher, logger, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
