using Automations.Api.Access;
using Automations.Api.AuditTrail;
using Automations.Api.Http;
using Automations.Api.ProjectAutomations;
using Automations.Api.Secrets;
using Automations.Core.Notifications;
using Automations.Core.Secrets;
using Automations.Core.Webhooks;
using Automations.Persistence.Control;
using Dapper;
using Npgsql;

namespace Automations.Api.Webhooks;

/// <summary>
/// Notification integrations (W&amp;B's SlackIntegration; a Teams one too): a Slack or Teams incoming-webhook URL that
/// notification automations post to. Team admins only, for every operation. An incoming-webhook URL is itself the
/// credential, so it is kept as team secrets are (encrypted under the master key) and never leaves the Api: answers
/// show its masked form. Stored as a webhook of kind slack or teams, so deliveries take the WebhookSender's own path
/// (SSRF guard, durable retries, attempt log, redelivery, 410 disabling).
/// </summary>
public static class IntegrationsEndpoints
{
    public sealed class IntegrationBody
    {
        public string? Name { get; set; }
        /// <summary>slack or teams.</summary>
        public string? Kind { get; set; }
        public string? Url { get; set; }
    }

    public sealed class Integration
    {
        public Guid Id { get; set; }
        public string Name { get; set; } = "";
        public string Kind { get; set; } = "";
        /// <summary>The masked URL: scheme, host, `********` and the last four characters.</summary>
        public string Url { get; set; } = "";
        public bool Disabled => DisabledAt is not null;
        public DateTimeOffset? DisabledAt { get; set; }
        public string? DisabledReason { get; set; }
        public DateTimeOffset CreatedAt { get; set; }
        public DateTimeOffset UpdatedAt { get; set; }
    }

    private const string Select =
        """
        select w.id as Id, w.name as Name, w.kind as Kind, w.url as Url, w.disabled_at as DisabledAt, w.disabled_reason as DisabledReason,
               w.created_at as CreatedAt, w.updated_at as UpdatedAt
        from control.webhooks w
        where w.entity_id = @entityId and w.kind <> 'generic'
        """;

    public static RouteGroupBuilder MapIntegrations(this RouteGroupBuilder entity)
    {
        var g = entity.MapGroup("/integrations").WithTags("Integrations").RequireEntityAdmin();
        g.MapGet("", ListAsync).Produces<Integration[]>().WithSummary("List the team's Slack and Teams integrations (URLs masked).");
        g.MapGet("/{id:guid}", GetAsync).Produces<Integration>().WithSummary("One integration (URL masked).");
        g.MapPost("", CreateAsync).Accepts<IntegrationBody>("application/json").Produces<Integration>(StatusCodes.Status201Created)
            .ProducesValidationProblem().ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Add an integration {name, kind: slack|teams, url} (the incoming-webhook URL, kept encrypted).");
        g.MapPut("/{id:guid}", UpdateAsync).Accepts<IntegrationBody>("application/json").Produces<Integration>().ProducesValidationProblem()
            .WithSummary("Replace an integration's name and URL (its kind stays); also re-enables a disabled one.");
        g.MapDelete("/{id:guid}", DeleteAsync).ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Delete an integration; 409 naming the automations that use it.");
        return entity;
    }

    private static async Task<IResult> ListAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        return Results.Ok(await c.QueryAsync<Integration>(Select + " order by w.name", new { entityId = http.Caller().EntityId }));
    }

    private static async Task<IResult> GetAsync(Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        var i = await c.QuerySingleOrDefaultAsync<Integration>(Select + " and w.id = @id", new { entityId = http.Caller().EntityId, id });
        return i is null ? Problems.NotFound("The integration") : Results.Ok(i);
    }

    /// <summary>Name, kind (create only) and URL checked; answers never quote the URL.</summary>
    internal static Errors Check(IntegrationBody body, bool create)
    {
        var errors = new Errors();
        Names.Check(errors, "name", body.Name?.Trim(), Names.Display(), "may contain letters, digits, '_' and '-', in words separated by spaces");
        if (create)
        {
            if (string.IsNullOrWhiteSpace(body.Kind)) errors.Add("kind", $"is required: {string.Join(" or ", IntegrationKinds.Notification)}");
            else if (!IntegrationKinds.Notification.Contains(body.Kind, StringComparer.Ordinal))
                errors.Add("kind", $"is not {string.Join(" or ", IntegrationKinds.Notification)}");
        }
        if (UrlPolicy.Check(body.Url) is { } refused) errors.Add("url", Unquoted(refused, body.Url));
        return errors;
    }

    /// <summary>The URL rule's message without the URL itself (a secret here), should the rule ever quote it.</summary>
    private static string Unquoted(UrlRefusal refused, string? url) =>
        string.IsNullOrEmpty(url) ? refused.Message : refused.Message.Replace(url, "the URL", StringComparison.Ordinal);

    private static IResult NoMasterKey() => Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "No master key",
        detail: "Integrations keep their URL encrypted: they need Secrets:MasterKeys:<id> and Secrets:ActiveKeyId in the Api's configuration.");

    private static IResult Duplicate(string name) =>
        Problems.Conflict("name", $"A webhook or integration named '{name}' already exists in this entity.");

    private static async Task<IResult> CreateAsync(HttpContext http, NpgsqlDataSource db, MasterKeys keys, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<IntegrationBody>(http.Request, ct);
        if (body is null) return error!;
        var errors = Check(body, create: true);
        if (errors.Any) return errors.ToResult();
        if (keys.Cipher is null) return NoMasterKey();

        var entityId = http.Caller().EntityId;
        var id = Guid.CreateVersion7();
        var name = body.Name!.Trim();
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var inserted = await InsertRowAsync(c, tx, keys.Cipher, id, entityId, name, body.Kind!, body.Url!, urlSecretId: null);
        if (inserted == 0) return Duplicate(name);
        var created = await c.QuerySingleAsync<Integration>(Select + " and w.id = @id", new { entityId, id }, tx);
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Integration, AuditActions.Create, id, created.Name, null, null, created);
        await tx.CommitAsync(ct);
        return Results.Created($"{http.Request.Path}/{id}", created);
    }

    private static async Task<IResult> UpdateAsync(Guid id, HttpContext http, NpgsqlDataSource db, MasterKeys keys, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<IntegrationBody>(http.Request, ct);
        if (body is null) return error!;
        var errors = Check(body, create: false);
        if (errors.Any) return errors.ToResult();
        if (keys.Cipher is null) return NoMasterKey();

        var entityId = http.Caller().EntityId;
        var name = body.Name!.Trim();
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var before = await c.QuerySingleOrDefaultAsync<Integration>(Select + " and w.id = @id for update of w", new { entityId, id }, tx);
        if (before is null) return Problems.NotFound("The integration");
        int updated;
        try
        {
            updated = await UpdateRowAsync(c, tx, keys.Cipher, id, entityId, name, body.Url!, urlSecretId: null);
        }
        catch (PostgresException ex) when (Names.IsUniqueViolation(ex))
        {
            return Duplicate(name);
        }
        if (updated == 0) return Problems.NotFound("The integration");
        var after = await c.QuerySingleAsync<Integration>(Select + " and w.id = @id", new { entityId, id }, tx);
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Integration, AuditActions.Update, id, after.Name, null, before, after);
        var projects = await c.QueryAsync<string>("select distinct project from control.automations where webhook_id = @id", new { id }, tx);
        await AutomationChanges.CommitAsync(http, c, tx, http.Caller().Entity, projects, null, ct);
        return Results.Ok(after);
    }

    private static async Task<IResult> DeleteAsync(Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var entityId = http.Caller().EntityId;
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var found = await c.QuerySingleOrDefaultAsync<Integration>(Select + " and w.id = @id for update of w", new { id, entityId }, tx);
        if (found is null) return Problems.NotFound("The integration");
        var users = (await c.QueryAsync<string>(
            "select coalesce(project, '(team)') || '/' || name from control.automations where webhook_id = @id order by 1", new { id }, tx)).ToList();
        if (users.Count > 0)
            return Problems.Conflict("id", $"The integration is used by automations {string.Join(", ", users)}; delete or change them first.",
                new Dictionary<string, object?> { ["automations"] = users });
        await c.ExecuteAsync("delete from control.webhooks where id = @id", new { id }, tx);
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Integration, AuditActions.Delete, id, found.Name, null, found, null);
        await tx.CommitAsync(ct);
        return Results.NoContent();
    }

    /// <summary>
    /// The one insert of an integration (this endpoint and a configuration file's apply): the URL encrypted, only its masked
    /// form in `url`. <paramref name="urlSecretId"/> names the team secret the URL was taken from (a configuration file's
    /// `urlSecret`), null when it was given directly. 0 when the name is taken.
    /// </summary>
    internal static Task<int> InsertRowAsync(NpgsqlConnection c, NpgsqlTransaction? tx, SecretCipher cipher, Guid id, Guid entityId, string name, string kind,
        string url, Guid? urlSecretId)
    {
        var e = cipher.Encrypt(entityId, WebhookTarget.SecretUrlName(id), url);
        return c.ExecuteAsync(
            """
            insert into control.webhooks (id, entity_id, name, url, kind, url_key_id, url_nonce, url_ciphertext, url_tag, url_secret_id)
            values (@id, @entityId, @name, @shown, @kind, @KeyId, @Nonce, @Ciphertext, @Tag, @urlSecretId) on conflict (entity_id, name) do nothing
            """, new { id, entityId, name, shown = NotificationMessage.MaskUrl(url), kind, e.KeyId, e.Nonce, e.Ciphertext, e.Tag, urlSecretId }, tx);
    }

    /// <summary>The one update of an integration (its kind stays); it also re-enables a disabled one. The caller tells Rules.</summary>
    internal static Task<int> UpdateRowAsync(NpgsqlConnection c, NpgsqlTransaction tx, SecretCipher cipher, Guid id, Guid entityId, string name, string url,
        Guid? urlSecretId)
    {
        var e = cipher.Encrypt(entityId, WebhookTarget.SecretUrlName(id), url);
        return c.ExecuteAsync(
            """
            update control.webhooks set name = @name, url = @shown, url_key_id = @KeyId, url_nonce = @Nonce, url_ciphertext = @Ciphertext, url_tag = @Tag,
                   url_secret_id = @urlSecretId, disabled_at = null, disabled_reason = null, updated_at = now()
            where id = @id and entity_id = @entityId and kind <> 'generic'
            """, new { id, entityId, name, shown = NotificationMessage.MaskUrl(url), e.KeyId, e.Nonce, e.Ciphertext, e.Tag, urlSecretId }, tx);
    }
}
