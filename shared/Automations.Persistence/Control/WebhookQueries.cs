using Automations.Core.Secrets;
using Dapper;
using Npgsql;

namespace Automations.Persistence.Control;

/// <summary>
/// A webhook as the sender needs it: where to post, and its signing secret and access token still encrypted. A
/// notification integration (<paramref name="Kind"/> slack or teams) has its URL encrypted (<paramref name="SecretUrl"/>,
/// bound to <see cref="SecretUrlName"/>); <paramref name="Url"/> is then only its shown form.
/// </summary>
public sealed record WebhookTarget(
    Guid Id,
    Guid EntityId,
    string Entity,
    string Name,
    string Url,
    NamedSecret? Secret,
    NamedSecret? AccessToken,
    DateTimeOffset? DisabledAt,
    string? DisabledReason,
    DateTimeOffset UpdatedAt,
    string Kind = "generic",
    EncryptedSecret? SecretUrl = null)
{
    /// <summary>The name an integration's URL is encrypted under (never a team secret's: those are identifiers).</summary>
    public static string SecretUrlName(Guid webhookId) => $"webhook-url/{webhookId:N}";
}

/// <summary>An encrypted team secret and the name it is bound to (the name is part of the cipher's associated data).</summary>
public sealed record NamedSecret(string Name, EncryptedSecret Value);

/// <summary>Read queries over control.webhooks and control.secrets for the WebhookSender (which never writes control).</summary>
public static class WebhookQueries
{
    public static async Task<WebhookTarget?> FindAsync(NpgsqlConnection connection, Guid webhookId, CancellationToken ct = default)
    {
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            """
            select w.id as Id, w.entity_id as EntityId, e.name as Entity, w.name as Name, w.url as Url,
                   w.disabled_at as DisabledAt, w.disabled_reason as DisabledReason, w.updated_at as UpdatedAt,
                   w.kind as Kind, w.url_key_id as UrlKeyId, w.url_nonce as UrlNonce, w.url_ciphertext as UrlCiphertext, w.url_tag as UrlTag,
                   s.name as SecretName, s.key_id as SecretKeyId, s.nonce as SecretNonce, s.ciphertext as SecretCiphertext, s.tag as SecretTag,
                   t.name as TokenName, t.key_id as TokenKeyId, t.nonce as TokenNonce, t.ciphertext as TokenCiphertext, t.tag as TokenTag
            from control.webhooks w
            join control.entities e on e.id = w.entity_id
            left join control.secrets s on s.id = w.secret_id
            left join control.secrets t on t.id = w.access_token_secret_id
            where w.id = @webhookId
            """, new { webhookId }, cancellationToken: ct));
        if (row is null) return null;
        return new WebhookTarget(row.Id, row.EntityId, row.Entity, row.Name, row.Url,
            row.SecretName is null ? null : new NamedSecret(row.SecretName, new EncryptedSecret(row.SecretKeyId!, row.SecretNonce!, row.SecretCiphertext!, row.SecretTag!)),
            row.TokenName is null ? null : new NamedSecret(row.TokenName, new EncryptedSecret(row.TokenKeyId!, row.TokenNonce!, row.TokenCiphertext!, row.TokenTag!)),
            row.DisabledAt is { } d ? Utc(d) : null, row.DisabledReason, Utc(row.UpdatedAt), row.Kind,
            row.UrlCiphertext is null ? null : new EncryptedSecret(row.UrlKeyId!, row.UrlNonce!, row.UrlCiphertext, row.UrlTag!));
    }

    private static DateTimeOffset Utc(DateTime t) => new(DateTime.SpecifyKind(t, DateTimeKind.Utc));

    /// <summary>The entity's secrets among <paramref name="names"/> (names not found are simply absent).</summary>
    public static async Task<IReadOnlyList<NamedSecret>> FindSecretsAsync(NpgsqlConnection connection, Guid entityId, IReadOnlyCollection<string> names, CancellationToken ct = default)
    {
        if (names.Count == 0) return [];
        var rows = await connection.QueryAsync<SecretRow>(new CommandDefinition(
            "select name as Name, key_id as KeyId, nonce as Nonce, ciphertext as Ciphertext, tag as Tag from control.secrets where entity_id = @entityId and name = any(@names)",
            new { entityId, names = names.ToArray() }, cancellationToken: ct));
        return rows.Select(r => new NamedSecret(r.Name, new EncryptedSecret(r.KeyId, r.Nonce, r.Ciphertext, r.Tag))).ToList();
    }

    private sealed class Row
    {
        public Guid Id { get; set; }
        public Guid EntityId { get; set; }
        public string Entity { get; set; } = "";
        public string Name { get; set; } = "";
        public string Url { get; set; } = "";
        public DateTime? DisabledAt { get; set; }
        public string? DisabledReason { get; set; }
        public DateTime UpdatedAt { get; set; }
        public string Kind { get; set; } = "generic";
        public string? UrlKeyId { get; set; }
        public byte[]? UrlNonce { get; set; }
        public byte[]? UrlCiphertext { get; set; }
        public byte[]? UrlTag { get; set; }
        public string? SecretName { get; set; }
        public string? SecretKeyId { get; set; }
        public byte[]? SecretNonce { get; set; }
        public byte[]? SecretCiphertext { get; set; }
        public byte[]? SecretTag { get; set; }
        public string? TokenName { get; set; }
        public string? TokenKeyId { get; set; }
        public byte[]? TokenNonce { get; set; }
        public byte[]? TokenCiphertext { get; set; }
        public byte[]? TokenTag { get; set; }
    }

    private sealed class SecretRow
    {
        public string Name { get; set; } = "";
        public string KeyId { get; set; } = "";
        public byte[] Nonce { get; set; } = [];
        public byte[] Ciphertext { get; set; } = [];
        public byte[] Tag { get; set; } = [];
    }
}
