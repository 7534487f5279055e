using Automations.Core.Security;
using Dapper;
using Npgsql;

namespace Automations.Persistence.Control;

/// <summary>Creates an entity (team), its first admin and an admin API key. Run by the Api's `bootstrap` command and by tests.</summary>
public static class Bootstrap
{
    public sealed record Result(Guid EntityId, Guid UserId, Guid KeyId, string ApiKey, bool EntityCreated);

    /// <param name="scopes">Defaults to every scope, so the first key can also send events and run an agent.</param>
    public static async Task<Result> CreateEntityWithAdminAsync(NpgsqlDataSource dataSource, string entity, string user, IReadOnlyList<string>? scopes = null, CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var existing = await connection.QuerySingleOrDefaultAsync<Guid?>("select id from control.entities where name = @entity", new { entity }, tx);
        var entityId = existing ?? Guid.CreateVersion7();
        if (existing is null)
            await connection.ExecuteAsync("insert into control.entities (id, name) values (@entityId, @entity)", new { entityId, entity }, tx);
        var userId = await connection.QuerySingleOrDefaultAsync<Guid?>("select id from control.users where name = @user", new { user }, tx) ?? Guid.CreateVersion7();
        await connection.ExecuteAsync("insert into control.users (id, name) values (@userId, @user) on conflict (name) do nothing", new { userId, user }, tx);
        await connection.ExecuteAsync(
            "insert into control.memberships (entity_id, user_id, role) values (@entityId, @userId, 'admin') on conflict (entity_id, user_id) do update set role = 'admin'",
            new { entityId, userId }, tx);
        var key = ApiKeys.NewKey();
        var keyId = Guid.CreateVersion7();
        await connection.ExecuteAsync(
            "insert into control.api_keys (id, entity_id, user_id, name, key_hash, display, scopes) values (@keyId, @entityId, @userId, @name, @hash, @display, @scopes)",
            new { keyId, entityId, userId, name = $"bootstrap ({user})", hash = ApiKeys.Hash(key), display = ApiKeys.Display(key), scopes = (scopes ?? ApiKeys.Scopes.All).ToArray() }, tx);
        await tx.CommitAsync(ct);
        return new Result(entityId, userId, keyId, key, existing is null);
    }

    /// <summary>A key without a person: a producer (events:write) or an agent (queues:agent).</summary>
    public static async Task<string> CreateServiceKeyAsync(NpgsqlDataSource dataSource, Guid entityId, string name, IReadOnlyList<string> scopes, CancellationToken ct = default)
    {
        var key = ApiKeys.NewKey();
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await connection.ExecuteAsync(
            "insert into control.api_keys (id, entity_id, name, key_hash, display, scopes) values (@id, @entityId, @name, @hash, @display, @scopes)",
            new { id = Guid.CreateVersion7(), entityId, name, hash = ApiKeys.Hash(key), display = ApiKeys.Display(key), scopes = scopes.ToArray() });
        return key;
    }
}
