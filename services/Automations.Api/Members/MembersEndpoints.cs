using Automations.Api.Access;
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
        if (body.Email is not null)
            await c.ExecuteAsync("update control.users set email = @Email where name = @User", new { body.User, body.Email }, tx);
        var userId = await c.QuerySingleAsync<Guid>("select id from control.users where name = @User", new { body.User }, tx);
        var previous = await c.QuerySingleOrDefaultAsync<string?>(
            "select role from control.memberships where entity_id = @entityId and user_id = @userId for update", new { entityId, userId }, tx);
        if (previous == "admin" && body.Role != "admin" && await AdminCountAsync(c, tx, entityId) <= 1)
            return Problems.Conflict("role", "This is the entity's last admin; make someone else admin first.");
        await c.ExecuteAsync(
            """
            insert into control.memberships (entity_id, user_id, role) values (@entityId, @userId, @Role)
            on conflict (entity_id, user_id) do update set role = excluded.role
            """, new { entityId, userId, body.Role }, tx);
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
            select m.user_id as UserId, m.role as Role from control.memberships m join control.users u on u.id = m.user_id
            where m.entity_id = @entityId and u.name = @user for update of m
            """, new { entityId, user }, tx);
        if (row is null) return Problems.NotFound($"The member '{user}'");
        if (row.Role == "admin" && await AdminCountAsync(c, tx, entityId) <= 1)
            return Problems.Conflict("user", "This is the entity's last admin; make someone else admin first.");
        await c.ExecuteAsync("delete from control.memberships where entity_id = @entityId and user_id = @userId", new { entityId, userId = row.UserId }, tx);
        await c.ExecuteAsync("update control.api_keys set revoked_at = now() where entity_id = @entityId and user_id = @userId and revoked_at is null",
            new { entityId, userId = row.UserId }, tx);
        await tx.CommitAsync(ct);
        return Results.NoContent();
    }

    private sealed class MemberRow
    {
        public Guid UserId { get; set; }
        public string Role { get; set; } = "";
    }

    private static Task<int> AdminCountAsync(NpgsqlConnection c, NpgsqlTransaction tx, Guid entityId) =>
        c.ExecuteScalarAsync<int>("select count(*) from control.memberships where entity_id = @entityId and role = 'admin'", new { entityId }, tx);
}
