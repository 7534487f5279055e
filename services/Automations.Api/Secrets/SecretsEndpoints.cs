using Automations.Api.Access;
using Automations.Api.AuditTrail;
using Automations.Api.Http;
using Automations.Core.Templates;
using Dapper;
using Npgsql;

namespace Automations.Api.Secrets;

/// <summary>Team secrets (admins only). Values go in, never out: listing shows names and timestamps.</summary>
public static class SecretsEndpoints
{
    public const int MaxValueLength = 8192;

    public sealed class SecretBody
    {
        public string? Name { get; set; }
        public string? Value { get; set; }
    }

    public sealed class SecretInfo
    {
        public string Name { get; set; } = "";
        public DateTimeOffset CreatedAt { get; set; }
        public DateTimeOffset UpdatedAt { get; set; }
    }

    private sealed class SecretRow
    {
        public Guid Id { get; set; }
        public string Name { get; set; } = "";
        public DateTimeOffset CreatedAt { get; set; }
        public DateTimeOffset UpdatedAt { get; set; }
    }

    public static RouteGroupBuilder MapSecrets(this RouteGroupBuilder entity)
    {
        var g = entity.MapGroup("/secrets").WithTags("Secrets").RequireEntityAdmin();
        g.MapGet("", ListAsync).WithSummary("List secret names and timestamps (never values).");
        g.MapPost("", CreateAsync).Accepts<SecretBody>("application/json").Produces<SecretInfo>(StatusCodes.Status201Created).ProducesValidationProblem()
            .WithSummary("Add a secret {name, value}.");
        g.MapPut("/{name}", ReplaceAsync).Accepts<SecretBody>("application/json").ProducesValidationProblem().WithSummary("Replace a secret's value {value}.");
        g.MapDelete("/{name}", DeleteAsync).ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Delete a secret; 409 naming the webhooks (and automations) that use it.");
        return entity;
    }

    private static async Task<IResult> ListAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        return Results.Ok(await c.QueryAsync<SecretInfo>(
            "select name as Name, created_at as CreatedAt, updated_at as UpdatedAt from control.secrets where entity_id = @entityId order by name",
            new { entityId = http.Caller().EntityId }));
    }

    private static void CheckValue(Errors errors, string? value)
    {
        if (string.IsNullOrEmpty(value)) errors.Add("value", "is required");
        else if (value.Length > MaxValueLength) errors.Add("value", $"must be at most {MaxValueLength} characters");
    }

    private static IResult NoMasterKey() => Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "No master key",
        detail: "Team secrets need Secrets:MasterKeys:<id> and Secrets:ActiveKeyId in the Api's configuration.");

    private static async Task<IResult> CreateAsync(HttpContext http, NpgsqlDataSource db, MasterKeys keys, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<SecretBody>(http.Request, ct);
        if (body is null) return error!;
        var errors = new Errors();
        Names.Check(errors, "name", body.Name, Names.Secret(), "must look like an identifier (letters, digits, '_'; not starting with a digit), since payloads use it as ${NAME}");
        if (body.Name is not null && TemplateVariables.IsKnown(body.Name)) errors.Add("name", $"'{body.Name}' is a template variable name; choose another");
        CheckValue(errors, body.Value);
        if (errors.Any) return errors.ToResult();
        if (keys.Cipher is null) return NoMasterKey();

        var entityId = http.Caller().EntityId;
        var e = keys.Cipher.Encrypt(entityId, body.Name!, body.Value!);
        var id = Guid.CreateVersion7();
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var info = await c.QuerySingleOrDefaultAsync<SecretInfo>(
            """
            insert into control.secrets (id, entity_id, name, key_id, nonce, ciphertext, tag)
            values (@id, @entityId, @Name, @KeyId, @Nonce, @Ciphertext, @Tag)
            on conflict (entity_id, name) do nothing
            returning name as Name, created_at as CreatedAt, updated_at as UpdatedAt
            """, new { id, entityId, body.Name, e.KeyId, e.Nonce, e.Ciphertext, e.Tag }, tx);
        if (info is null) return Problems.Conflict("name", $"A secret named '{body.Name}' already exists; PUT /secrets/{body.Name} replaces its value.");
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Secret, AuditActions.Create, id, info.Name, null, null, Audit.SecretView(info.Name, changed: true));
        await tx.CommitAsync(ct);
        return Results.Created($"{http.Request.Path}/{info.Name}", info);
    }

    private static async Task<IResult> ReplaceAsync(string name, HttpContext http, NpgsqlDataSource db, MasterKeys keys, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<SecretBody>(http.Request, ct);
        if (body is null) return error!;
        var errors = new Errors();
        CheckValue(errors, body.Value);
        if (errors.Any) return errors.ToResult();
        if (keys.Cipher is null) return NoMasterKey();

        var entityId = http.Caller().EntityId;
        var e = keys.Cipher.Encrypt(entityId, name, body.Value!);
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var info = await c.QuerySingleOrDefaultAsync<SecretRow>(
            """
            update control.secrets set key_id = @KeyId, nonce = @Nonce, ciphertext = @Ciphertext, tag = @Tag, updated_at = now()
            where entity_id = @entityId and name = @name
            returning id as Id, name as Name, created_at as CreatedAt, updated_at as UpdatedAt
            """, new { entityId, name, e.KeyId, e.Nonce, e.Ciphertext, e.Tag }, tx);
        if (info is null) return Problems.NotFound($"The secret '{name}'");
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Secret, AuditActions.Update, info.Id, info.Name, null,
            Audit.SecretView(info.Name, changed: false), Audit.SecretView(info.Name, changed: true));
        await tx.CommitAsync(ct);
        return Results.Ok(new SecretInfo { Name = info.Name, CreatedAt = info.CreatedAt, UpdatedAt = info.UpdatedAt });
    }

    private static async Task<IResult> DeleteAsync(string name, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var entityId = http.Caller().EntityId;
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var id = await c.QuerySingleOrDefaultAsync<Guid?>(
            "select id from control.secrets where entity_id = @entityId and name = @name for update", new { entityId, name }, tx);
        if (id is null) return Problems.NotFound($"The secret '{name}'");
        var webhooks = (await c.QueryAsync<string>(
            "select name from control.webhooks where secret_id = @id or access_token_secret_id = @id order by name", new { id }, tx)).ToList();
        var placeholder = "${" + name + "}";
        var automations = (await c.QueryAsync<(string Project, string Name, string Payload)>(
                "select coalesce(project, '(team)'), name, payload from control.automations where entity_id = @entityId and payload like '%' || @placeholder || '%' order by 1, 2",
                new { entityId, placeholder }, tx))
            .Where(a => PayloadTemplate.Names(a.Payload).Contains(name, StringComparer.Ordinal))
            .Select(a => $"{a.Project}/{a.Name}").ToList();
        if (webhooks.Count > 0 || automations.Count > 0)
        {
            var users = string.Join("; ", new[]
            {
                webhooks.Count > 0 ? "webhooks: " + string.Join(", ", webhooks) : null,
                automations.Count > 0 ? "automation payloads: " + string.Join(", ", automations) : null,
            }.Where(s => s is not null));
            return Problems.Conflict("name", $"The secret '{name}' is in use ({users}); change those first.",
                new Dictionary<string, object?> { ["webhooks"] = webhooks, ["automations"] = automations });
        }
        await c.ExecuteAsync("delete from control.secrets where id = @id", new { id }, tx);
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Secret, AuditActions.Delete, id, name, null, Audit.SecretView(name, changed: false), null);
        await tx.CommitAsync(ct);
        return Results.NoContent();
    }
}
