using Automations.Core.Security;
using Dapper;
using Npgsql;

namespace Automations.Persistence.Control;

/// <summary>Who a presented API key is: its entity, its person (if any) with that person's role, and its scopes.</summary>
public sealed record ApiKeyPrincipal(Guid KeyId, Guid EntityId, string Entity, Guid? UserId, string? UserName, string? Role, string[] Scopes)
{
    public bool IsAdmin => Role == "admin";
    public bool HasScope(string scope) => Scopes.Contains(scope, StringComparer.Ordinal);
}

/// <summary>Read queries over control.api_keys, shared by every service that authenticates callers.</summary>
public static class ApiKeyQueries
{
    /// <returns>null for an unknown or revoked key.</returns>
    public static async Task<ApiKeyPrincipal?> AuthenticateAsync(NpgsqlDataSource dataSource, string presentedKey, CancellationToken ct = default)
    {
        if (!IsPlausible(presentedKey)) return null;
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        var row = await connection.QuerySingleOrDefaultAsync<Row>(new CommandDefinition(
            """
            select k.id as KeyId, k.entity_id as EntityId, e.name as Entity, k.user_id as UserId, u.name as UserName, m.role as Role, k.scopes as Scopes
            from control.api_keys k
            join control.entities e on e.id = k.entity_id
            left join control.users u on u.id = k.user_id
            left join control.memberships m on m.entity_id = k.entity_id and m.user_id = k.user_id
            where k.key_hash = @hash and k.revoked_at is null
            """, new { hash = ApiKeys.Hash(presentedKey) }, cancellationToken: ct));
        return row is null ? null : new ApiKeyPrincipal(row.KeyId, row.EntityId, row.Entity, row.UserId, row.UserName, row.Role, row.Scopes);
    }

    /// <summary>Whether a presented key is worth a lookup (keys are ~46 characters; anything past 200 is not one).</summary>
    public static bool IsPlausible(string? presentedKey) => !string.IsNullOrEmpty(presentedKey) && presentedKey.Length <= 200;

    private sealed class Row
    {
        public Guid KeyId { get; set; }
        public Guid EntityId { get; set; }
        public string Entity { get; set; } = "";
        public Guid? UserId { get; set; }
        public string? UserName { get; set; }
        public string? Role { get; set; }
        public string[] Scopes { get; set; } = [];
    }

    /// <summary>The key from an `Authorization: Bearer ...` header value, or null.</summary>
    public static string? FromAuthorizationHeader(string? header)
    {
        if (header is null) return null;
        const string bearer = "Bearer ";
        return header.StartsWith(bearer, StringComparison.OrdinalIgnoreCase) ? header[bearer.Length..].Trim() : null;
    }
}
