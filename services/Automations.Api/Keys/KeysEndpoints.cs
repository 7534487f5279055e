using Automations.Api.Access;
using Automations.Api.AuditTrail;
using Automations.Api.Http;
using Automations.Core.Security;
using Dapper;
using Npgsql;

namespace Automations.Api.Keys;

/// <summary>
/// API keys (admins only): a key for a person (acts with their role; may carry the api scope), or a service key for a
/// producer (events:write) or a launch agent (queues:agent). The key is in the creation answer only; the database keeps its hash.
/// </summary>
public static class KeysEndpoints
{
    public sealed class KeyBody
    {
        public string? Name { get; set; }
        public string[]? Scopes { get; set; }
        public string? User { get; set; }
    }

    public sealed class KeyInfo
    {
        public Guid Id { get; set; }
        public string Name { get; set; } = "";
        public string Display { get; set; } = "";
        public string[] Scopes { get; set; } = [];
        public string? User { get; set; }
        public DateTimeOffset CreatedAt { get; set; }
        public DateTimeOffset? RevokedAt { get; set; }
        public DateTimeOffset? LastUsedAt { get; set; }
    }

    public sealed record CreatedKey(Guid Id, string Name, string Key, string Display, string[] Scopes, string? User, DateTimeOffset CreatedAt);

    public static RouteGroupBuilder MapKeys(this RouteGroupBuilder entity)
    {
        var g = entity.MapGroup("/keys").WithTags("Keys").RequireEntityAdmin();
        g.MapGet("", ListAsync).WithSummary("List keys (never the key itself).");
        g.MapPost("", CreateAsync).Accepts<KeyBody>("application/json").Produces<CreatedKey>(StatusCodes.Status201Created).ProducesValidationProblem()
            .WithSummary("Create a key {name, scopes: [api|events:write|queues:agent], user?}; the answer shows the key once.");
        g.MapDelete("/{id:guid}", RevokeAsync).WithSummary("Revoke a key.");
        return entity;
    }

    private static async Task<IResult> ListAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        var rows = await c.QueryAsync<KeyInfo>(
            """
            select k.id as Id, k.name as Name, k.display as Display, k.scopes as Scopes, u.name as User,
                   k.created_at as CreatedAt, k.revoked_at as RevokedAt, k.last_used_at as LastUsedAt
            from control.api_keys k left join control.users u on u.id = k.user_id
            where k.entity_id = @entityId order by k.created_at
            """, new { entityId = http.Caller().EntityId });
        return Results.Ok(rows);
    }

    private static async Task<IResult> CreateAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<KeyBody>(http.Request, ct);
        if (body is null) return error!;
        var errors = new Errors();
        if (string.IsNullOrWhiteSpace(body.Name)) errors.Add("name", "is required");
        else if (body.Name.Length > 128) errors.Add("name", "must be at most 128 characters");
        var scopes = (body.Scopes ?? []).Distinct(StringComparer.Ordinal).ToArray();
        if (scopes.Length == 0) errors.Add("scopes", $"at least one of {string.Join(", ", ApiKeys.Scopes.All)} is required");
        foreach (var s in scopes.Where(s => !ApiKeys.Scopes.All.Contains(s, StringComparer.Ordinal)))
            errors.Add("scopes", $"'{s}' is not a scope; use {string.Join(", ", ApiKeys.Scopes.All)}");
        if (scopes.Contains(ApiKeys.Scopes.Api) && string.IsNullOrEmpty(body.User))
            errors.Add("user", "a key with the api scope acts as a person: name the member it belongs to");

        var entityId = http.Caller().EntityId;
        await using var c = await db.OpenConnectionAsync(ct);
        Guid? userId = null;
        if (!string.IsNullOrEmpty(body.User))
        {
            userId = await c.QuerySingleOrDefaultAsync<Guid?>(
                "select u.id from control.users u join control.memberships m on m.user_id = u.id and m.entity_id = @entityId where u.name = @User",
                new { entityId, body.User });
            if (userId is null) errors.Add("user", $"'{body.User}' is not a member of this entity");
        }
        if (errors.Any) return errors.ToResult();

        var key = ApiKeys.NewKey();
        var created = new CreatedKey(Guid.CreateVersion7(), body.Name!, key, ApiKeys.Display(key), scopes, body.User, DateTimeOffset.UtcNow);
        await using var tx = await c.BeginTransactionAsync(ct);
        await c.ExecuteAsync(
            """
            insert into control.api_keys (id, entity_id, user_id, name, key_hash, display, scopes, created_at)
            values (@Id, @entityId, @userId, @Name, @hash, @Display, @Scopes, @CreatedAt)
            """, new { created.Id, entityId, userId, created.Name, hash = ApiKeys.Hash(key), created.Display, created.Scopes, created.CreatedAt }, tx);
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Key, AuditActions.Create, created.Id, created.Name, null, null,
            View(created.Id, created.Name, created.Scopes, created.User, null));
        await tx.CommitAsync(ct);
        return Results.Created($"{http.Request.Path}/{created.Id}", created);
    }

    private static async Task<IResult> RevokeAsync(Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var before = await c.QuerySingleOrDefaultAsync<KeyInfo>(
            """
            select k.id as Id, k.name as Name, k.scopes as Scopes, u.name as User, k.revoked_at as RevokedAt
            from control.api_keys k left join control.users u on u.id = k.user_id
            where k.id = @id and k.entity_id = @entityId for update of k
            """, new { id, entityId = http.Caller().EntityId }, tx);
        if (before is null) return Problems.NotFound("The key");
        // Revoking a revoked key changes nothing, and is not recorded again.
        if (before.RevokedAt is not null) return Results.NoContent();
        var revokedAt = new DateTimeOffset(DateTime.SpecifyKind(
            await c.QuerySingleAsync<DateTime>("update control.api_keys set revoked_at = now() where id = @id returning revoked_at", new { id }, tx), DateTimeKind.Utc));
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Key, AuditActions.Revoke, id, before.Name, null,
            View(id, before.Name, before.Scopes, before.User, null), View(id, before.Name, before.Scopes, before.User, revokedAt));
        await tx.CommitAsync(ct);
        return Results.NoContent();
    }

    /// <summary>A key as the audit trail shows it: never the key, nor its displayed prefix.</summary>
    internal static object View(Guid id, string name, string[] scopes, string? user, DateTimeOffset? revokedAt) =>
        new { id, name, scopes, user, revokedAt };
}
