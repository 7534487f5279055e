using Automations.Api.Access;
using Automations.Api.AuditTrail;
using Automations.Api.Keys;
using Automations.Api.Http;
using Dapper;
using Npgsql;

namespace Automations.Api.Members;

/// <summary>Team membership: admins add people (creating the user when new), change roles and remove members; every member may list.</summary>
public static class MembersEndpoints
{
    public sealed class MemberBody
    {
        public string? User { get; set; }
        public string? Role { get; set; }
        public string? Email { get; set; }
    }

    public sealed class Member
    {
        public string User { get; set; } = "";
        public string? Email { get; set; }
        public string Role { get; set; } = "";
        public DateTimeOffset CreatedAt { get; set; }
    }

    public static RouteGroupBuilder MapMembers(this RouteGroupBuilder entity)
    {
        var g = entity.MapGroup("/members").WithTags("Members");
        g.MapGet("", ListAsync).WithSummary("List the entity's members and their roles.");
        g.MapPost("", PutAsync).RequireEntityAdmin().Accepts<MemberBody>("application/json").ProducesValidationProblem()
            .WithSummary("Add a member or change a member's role: {user, role: admin|member, email?}.");
        g.MapDelete("/{user}", DeleteAsync).RequireEntityAdmin().WithSummary("Remove a member (their keys for this entity are revoked).");
        return entity;
    }

    private static async Task<IResult> ListAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        var rows = await c.QueryAsync<Member>(
            """
            select u.name as User, u.email as Email, m.role as Role, m.created_at as CreatedAt
            from control.memberships m join control.users u on u.id = m.user_id
            where m.entity_id = @entityId order by u.name
            """, new { entityId = http.Caller().EntityId });
        return Results.Ok(rows);
    }

    private static async Task<IResult> PutAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<MemberBody>(http.Request, ct);
        if (body is null) return error!;
        var errors = new Errors();
        Names.Check(errors, "user", body.User, Names.Slug(), "may contain letters, digits, '.', '_' and '-' only");
        if (body.Role is not ("admin" or "member")) errors.Add("role", "must be admin or member");
        if (body.Email is { Length: > 254 }) errors.Add("email", "must be at most 254 characters");
        if (errors.Any) return errors.ToResult();

        var entityId = http.Caller().EntityId;
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        await c.ExecuteAsync("insert into control.users (id, name, email) values (@id, @User, @Email) on conflict (name) do nothing",
            new { id = Guid.CreateVersion7(), body.User, body.Email }, tx);
        var prior = await c.QuerySingleAsync<UserRow>("select id as Id, email as Email from control.users where name = @User for update", new { body.User }, tx);
        var userId = prior.Id;
        if (body.Email is not null)
            await c.ExecuteAsync("update control.users set email = @Email where id = @userId", new { userId, body.Email }, tx);
        var previous = await c.QuerySingleOrDefaultAsync<string?>(
            "select role from control.memberships where entity_id = @entityId and user_id = @userId for update", new { entityId, userId }, tx);
        if (previous == "admin" && body.Role != "admin" && await AdminCountAsync(c, tx, entityId) <= 1)
            return Problems.Conflict("role", "This is the entity's last admin; make someone else admin first.");
        await c.ExecuteAsync(
            """
            insert into control.memberships (entity_id, user_id, role) values (@entityId, @userId, @Role)
            on conflict (entity_id, user_id) do update set role = excluded.role
            """, new { entityId, userId, body.Role }, tx);
        var email = body.Email ?? prior.Email;
        if (previous is null)
            await Audit.Of(http, tx).RecordAsync(AuditKinds.Member, AuditActions.Create, userId, body.User, null, null, View(body.User!, email, body.Role!));
        else if (previous != body.Role || email != prior.Email)
            await Audit.Of(http, tx).RecordAsync(AuditKinds.Member, AuditActions.Update, userId, body.User, null, View(body.User!, prior.Email, previous),
                View(body.User!, email, body.Role!));
        await tx.CommitAsync(ct);
        var member = new Member { User = body.User!, Email = body.Email, Role = body.Role!, CreatedAt = DateTimeOffset.UtcNow };
        return previous is null ? Results.Created($"{http.Request.Path}/{body.User}", member) : Results.Ok(member);
    }

    private static async Task<IResult> DeleteAsync(string user, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var entityId = http.Caller().EntityId;
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<MemberRow>(
            """
            select m.user_id as UserId, m.role as Role, u.email as Email from control.memberships m join control.users u on u.id = m.user_id
            where m.entity_id = @entityId and u.name = @user for update of m
            """, new { entityId, user }, tx);
        if (row is null) return Problems.NotFound($"The member '{user}'");
        if (row.Role == "admin" && await AdminCountAsync(c, tx, entityId) <= 1)
            return Problems.Conflict("user", "This is the entity's last admin; make someone else admin first.");
        await c.ExecuteAsync("delete from control.memberships where entity_id = @entityId and user_id = @userId", new { entityId, userId = row.UserId }, tx);
        var revoked = await c.QueryAsync<KeyRow>(
            """
            update control.api_keys set revoked_at = now() where entity_id = @entityId and user_id = @userId and revoked_at is null
            returning id as Id, name as Name, scopes as Scopes, revoked_at as RevokedAt
            """, new { entityId, userId = row.UserId }, tx);
        var audit = Audit.Of(http, tx);
        await audit.RecordAsync(AuditKinds.Member, AuditActions.Delete, row.UserId, user, null, View(user, row.Email, row.Role), null);
        foreach (var k in revoked)
            await audit.RecordAsync(AuditKinds.Key, AuditActions.Revoke, k.Id, k.Name, null,
                KeysEndpoints.View(k.Id, k.Name, k.Scopes, user, null), KeysEndpoints.View(k.Id, k.Name, k.Scopes, user, k.RevokedAt));
        await tx.CommitAsync(ct);
        return Results.NoContent();
    }

    private sealed class MemberRow
    {
        public Guid UserId { get; set; }
        public string Role { get; set; } = "";
        public string? Email { get; set; }
    }

    private sealed class UserRow
    {
        public Guid Id { get; set; }
        public string? Email { get; set; }
    }

    private sealed class KeyRow
    {
        public Guid Id { get; set; }
        public string Name { get; set; } = "";
        public string[] Scopes { get; set; } = [];
        public DateTimeOffset RevokedAt { get; set; }
    }

    /// <summary>A member as the audit trail shows it (as the list does).</summary>
    private static object View(string user, string? email, string role) => new { user, email, role };

    private static Task<int> AdminCountAsync(NpgsqlConnection c, NpgsqlTransaction tx, Guid entityId) =>
        c.ExecuteScalarAsync<int>("select count(*) from control.memberships where entity_id = @entityId and role = 'admin'", new { entityId }, tx);
}
