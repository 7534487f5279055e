using Automations.Api.Access;
using Automations.Api.AuditTrail;
using Automations.Api.ProjectAutomations;
using Automations.Api.Http;
using Automations.Core.Webhooks;
using Dapper;
using Npgsql;

namespace Automations.Api.Webhooks;

/// <summary>
/// Team webhooks. Admins create, change and delete them; members may list and read them (read-only) so they can pick
/// one for an automation. The secret and the access token are chosen by secret name; their values never leave the Api.
/// Notification integrations live in the same table (another kind) and have their own endpoints (<see cref="IntegrationsEndpoints"/>).
/// </summary>
public static class WebhooksEndpoints
{
    public sealed class WebhookBody
    {
        public string? Name { get; set; }
        public string? Url { get; set; }
        public string? Secret { get; set; }
        public string? AccessToken { get; set; }
    }

    public sealed class Webhook
    {
        public Guid Id { get; set; }
        public string Name { get; set; } = "";
        public string Url { get; set; } = "";
        public string? Secret { get; set; }
        public string? AccessToken { get; set; }
        public bool Disabled => DisabledAt is not null;
        public DateTimeOffset? DisabledAt { get; set; }
        public string? DisabledReason { get; set; }
        public DateTimeOffset CreatedAt { get; set; }
        public DateTimeOffset UpdatedAt { get; set; }
    }

    private const string Select =
        """
        select w.id as Id, w.name as Name, w.url as Url, s.name as Secret, t.name as AccessToken,
               w.disabled_at as DisabledAt, w.disabled_reason as DisabledReason, w.created_at as CreatedAt, w.updated_at as UpdatedAt
        from control.webhooks w
        left join control.secrets s on s.id = w.secret_id
        left join control.secrets t on t.id = w.access_token_secret_id
        where w.entity_id = @entityId and w.kind = 'generic'
        """;

    public static RouteGroupBuilder MapWebhooks(this RouteGroupBuilder entity)
    {
        var g = entity.MapGroup("/webhooks").WithTags("Webhooks");
        g.MapGet("", ListAsync).WithSummary("List the team's webhooks (members may read).");
        g.MapGet("/{id:guid}", GetAsync).WithSummary("One webhook (members may read).");
        g.MapPost("", CreateAsync).RequireEntityAdmin().Accepts<WebhookBody>("application/json").Produces<Webhook>(StatusCodes.Status201Created)
            .ProducesValidationProblem().WithSummary("Create a webhook {name, url, secret?, accessToken?} (secret names).");
        g.MapPut("/{id:guid}", UpdateAsync).RequireEntityAdmin().Accepts<WebhookBody>("application/json").ProducesValidationProblem()
            .WithSummary("Replace a webhook's name, URL, secret and access token; also re-enables a disabled webhook.");
        g.MapDelete("/{id:guid}", DeleteAsync).RequireEntityAdmin().ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Delete a webhook; 409 naming the automations that use it.");
        return entity;
    }

    private static async Task<IResult> ListAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        return Results.Ok(await c.QueryAsync<Webhook>(Select + " order by w.name", new { entityId = http.Caller().EntityId }));
    }

    private static async Task<IResult> GetAsync(Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        var w = await c.QuerySingleOrDefaultAsync<Webhook>(Select + " and w.id = @id", new { entityId = http.Caller().EntityId, id });
        return w is null ? Problems.NotFound("The webhook") : Results.Ok(w);
    }

    internal sealed record Checked(string Name, string Url, Guid? SecretId, Guid? AccessTokenId);

    private static async Task<(Checked? Value, IResult? Error)> CheckAsync(WebhookBody body, Guid entityId, NpgsqlConnection c)
    {
        var (value, errors) = await ValidateAsync(body, entityId, c);
        return value is null ? (null, errors.ToResult()) : (value, null);
    }

    /// <summary>The webhook rules, errors by field (a configuration file prefixes them with its own path).</summary>
    internal static async Task<(Checked? Value, Errors Errors)> ValidateAsync(WebhookBody body, Guid entityId, NpgsqlConnection c)
    {
        var errors = new Errors();
        Names.Check(errors, "name", body.Name?.Trim(), Names.Display(), "may contain letters, digits, '_' and '-', in words separated by spaces");
        if (UrlPolicy.Check(body.Url) is { } refused) errors.Add("url", refused.Message);
        async Task<Guid?> SecretAsync(string field, string? name)
        {
            if (string.IsNullOrEmpty(name)) return null;
            var id = await c.QuerySingleOrDefaultAsync<Guid?>("select id from control.secrets where entity_id = @entityId and name = @name", new { entityId, name });
            if (id is null) errors.Add(field, $"there is no secret named '{name}' in this entity; add it first (POST /secrets)");
            return id;
        }
        var secretId = await SecretAsync("secret", body.Secret);
        var tokenId = await SecretAsync("accessToken", body.AccessToken);
        return errors.Any ? (null, errors) : (new Checked(body.Name!.Trim(), body.Url!, secretId, tokenId), errors);
    }

    private static IResult Duplicate(string name) => Problems.Conflict("name", $"A webhook named '{name}' already exists in this entity.");

    private static async Task<IResult> CreateAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<WebhookBody>(http.Request, ct);
        if (body is null) return error!;
        var entityId = http.Caller().EntityId;
        await using var c = await db.OpenConnectionAsync(ct);
        var (w, invalid) = await CheckAsync(body, entityId, c);
        if (w is null) return invalid!;
        var id = Guid.CreateVersion7();
        await using var tx = await c.BeginTransactionAsync(ct);
        var inserted = await InsertRowAsync(c, tx, id, entityId, w);
        if (inserted == 0) return Duplicate(w.Name);
        var created = await c.QuerySingleAsync<Webhook>(Select + " and w.id = @id", new { entityId, id }, tx);
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Webhook, AuditActions.Create, id, created.Name, null, null, created);
        await tx.CommitAsync(ct);
        return Results.Created($"{http.Request.Path}/{id}", created);
    }

    private static async Task<IResult> UpdateAsync(Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<WebhookBody>(http.Request, ct);
        if (body is null) return error!;
        var entityId = http.Caller().EntityId;
        await using var c = await db.OpenConnectionAsync(ct);
        var (w, invalid) = await CheckAsync(body, entityId, c);
        if (w is null) return invalid!;
        await using var tx = await c.BeginTransactionAsync(ct);
        var before = await c.QuerySingleOrDefaultAsync<Webhook>(Select + " and w.id = @id for update of w", new { entityId, id }, tx);
        if (before is null) return Problems.NotFound("The webhook");
        int updated;
        try
        {
            updated = await UpdateRowAsync(c, tx, id, entityId, w);
        }
        catch (PostgresException ex) when (Names.IsUniqueViolation(ex))
        {
            return Duplicate(w.Name);
        }
        if (updated == 0) return Problems.NotFound("The webhook");
        var after = await c.QuerySingleAsync<Webhook>(Select + " and w.id = @id", new { entityId, id }, tx);
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Webhook, AuditActions.Update, id, after.Name, null, before, after);
        // Rules may cache automations with their webhook: tell every project that uses this one.
        var projects = await c.QueryAsync<string>(
            "select distinct project from control.automations where webhook_id = @id", new { id }, tx);
        await AutomationChanges.CommitAsync(http, c, tx, http.Caller().Entity, projects, null, ct);
        return Results.Ok(after);
    }

    private static async Task<IResult> DeleteAsync(Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var entityId = http.Caller().EntityId;
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var found = await c.QuerySingleOrDefaultAsync<Webhook>(Select + " and w.id = @id for update of w", new { id, entityId }, tx);
        if (found is null) return Problems.NotFound("The webhook");
        var users = (await c.QueryAsync<string>(
            "select coalesce(project, '(team)') || '/' || name from control.automations where webhook_id = @id order by 1", new { id }, tx)).ToList();
        if (users.Count > 0)
            return Problems.Conflict("id", $"The webhook is used by automations {string.Join(", ", users)}; delete or change them first.",
                new Dictionary<string, object?> { ["automations"] = users });
        await c.ExecuteAsync("delete from control.webhooks where id = @id", new { id }, tx);
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Webhook, AuditActions.Delete, id, found.Name, null, found, null);
        await tx.CommitAsync(ct);
        return Results.NoContent();
    }

    /// <summary>The one insert of a webhook (this endpoint and a configuration file's apply): 0 when the name is taken.</summary>
    internal static Task<int> InsertRowAsync(NpgsqlConnection c, NpgsqlTransaction? tx, Guid id, Guid entityId, Checked w) =>
        c.ExecuteAsync(
            """
            insert into control.webhooks (id, entity_id, name, url, secret_id, access_token_secret_id)
            values (@id, @entityId, @Name, @Url, @SecretId, @AccessTokenId) on conflict (entity_id, name) do nothing
            """, new { id, entityId, w.Name, w.Url, w.SecretId, w.AccessTokenId }, tx);

    /// <summary>The one update of a webhook; it also re-enables a disabled one. The caller tells Rules (the projects whose automations use it).</summary>
    internal static Task<int> UpdateRowAsync(NpgsqlConnection c, NpgsqlTransaction tx, Guid id, Guid entityId, Checked w) =>
        c.ExecuteAsync(
            """
            update control.webhooks set name = @Name, url = @Url, secret_id = @SecretId, access_token_secret_id = @AccessTokenId,
                   disabled_at = null, disabled_reason = null, updated_at = now()
            where id = @id and entity_id = @entityId and kind = 'generic'
            """, new { id, entityId, w.Name, w.Url, w.SecretId, w.AccessTokenId }, tx);
}
