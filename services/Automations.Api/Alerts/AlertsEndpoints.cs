using System.Globalization;
using System.Xml;
using Automations.Api.Access;
using Automations.Api.AuditTrail;
using Automations.Api.Http;
using Automations.Contracts;
using Automations.Persistence.Writes;
using Dapper;
using Npgsql;

namespace Automations.Api.Alerts;

/// <summary>
/// Operational alerts (docs/alerts.md): a team's thresholds and alert channel (admins only), the incidents of a webhook
/// or integration (members may read), and re-enabling a disabled one with a redelivery of what failed meanwhile. The
/// incidents are the WebhookSender's: read through its view delivery.incident_history; a redelivery is a
/// RedeliverWebhook command in the control outbox, as on the deliveries endpoints.
/// </summary>
public static class AlertsEndpoints
{
    public sealed class AlertSettingsBody
    {
        public int? ConsecutiveFailures { get; set; }
        public string? FailingFor { get; set; }
        public string? DisableAfter { get; set; }
        /// <summary>The id of a webhook or notification integration of the team; null: no channel.</summary>
        public Guid? Channel { get; set; }
    }

    /// <param name="FailingFor">ISO 8601 duration (PT6H).</param>
    public sealed record AlertSettings(int ConsecutiveFailures, string FailingFor, string DisableAfter, Guid? Channel, string? ChannelName,
        string? ChannelKind, bool Defaults, DateTimeOffset? UpdatedAt);

    public sealed class EnableBody
    {
        public bool? RedeliverFailed { get; set; }
        public DateTimeOffset? RedeliverFailedSince { get; set; }
    }

    public sealed record Incident(Guid Id, Guid WebhookId, bool Open, string Reason, DateTimeOffset FailingSince, DateTimeOffset OpenedAt,
        DateTimeOffset? ClosedAt, DateTimeOffset? DisabledAt, string? DisabledReason);

    /// <summary>The sender's defaults (section Alerts, read by both) and the shortest window a team may set.</summary>
    private sealed record Limits(int ConsecutiveFailures, TimeSpan FailingFor, TimeSpan DisableAfter, TimeSpan MinimumWindow)
    {
        public static Limits From(IConfiguration c) => new(
            c.GetValue("Alerts:ConsecutiveFailures", 5),
            c.GetValue("Alerts:FailingFor", TimeSpan.FromHours(6)),
            c.GetValue("Alerts:DisableAfter", TimeSpan.FromDays(5)),
            // Tests shorten it (seconds); a team should not be able to disable its webhook after a minute of failure.
            c.GetValue("Alerts:MinimumWindow", TimeSpan.FromMinutes(5)));
    }

    public const int MaxConsecutiveFailures = 1000;
    public static readonly TimeSpan MaxFailingFor = TimeSpan.FromDays(30);
    public static readonly TimeSpan MaxDisableAfter = TimeSpan.FromDays(90);
    private const int MaxIncidents = 100;

    public static RouteGroupBuilder MapAlerts(this RouteGroupBuilder entity)
    {
        var g = entity.MapGroup("").WithTags("Alerts");
        g.MapGet("/alerts", GetAsync).RequireEntityAdmin().Produces<AlertSettings>()
            .WithSummary("The team's alert thresholds and channel (admins).");
        g.MapPut("/alerts", PutAsync).RequireEntityAdmin().Accepts<AlertSettingsBody>("application/json").Produces<AlertSettings>().ProducesValidationProblem()
            .WithSummary("Replace the team's alert thresholds and channel {consecutiveFailures, failingFor, disableAfter, channel?} (admins).");
        g.MapGet("/webhooks/{id:guid}/incidents", IncidentsAsync).Produces<Incident[]>()
            .WithSummary("Incidents of a webhook or integration, newest first (members may read).");
        g.MapPost("/webhooks/{id:guid}/enable", EnableAsync).RequireEntityAdmin().Accepts<EnableBody>("application/json").ProducesValidationProblem()
            .WithSummary("Re-enable a webhook or integration: {} , or {redeliverFailed: true} or {redeliverFailedSince} to redeliver what failed (admins).");
        return entity;
    }

    private const string SelectSettings =
        """
        select a.consecutive_failures as ConsecutiveFailures, a.failing_for as FailingFor, a.disable_after as DisableAfter,
               a.channel_webhook_id as Channel, w.name as ChannelName, w.kind as ChannelKind, a.updated_at as UpdatedAt
        from control.alert_settings a left join control.webhooks w on w.id = a.channel_webhook_id
        where a.entity_id = @entityId
        """;

    private sealed class SettingsRow
    {
        public int ConsecutiveFailures { get; set; }
        public TimeSpan FailingFor { get; set; }
        public TimeSpan DisableAfter { get; set; }
        public Guid? Channel { get; set; }
        public string? ChannelName { get; set; }
        public string? ChannelKind { get; set; }
        public DateTime UpdatedAt { get; set; }
    }

    private static async Task<AlertSettings> ReadAsync(NpgsqlConnection c, Guid entityId, Limits limits, CancellationToken ct, NpgsqlTransaction? tx = null)
    {
        var row = await c.QuerySingleOrDefaultAsync<SettingsRow>(new CommandDefinition(SelectSettings, new { entityId }, tx, cancellationToken: ct));
        return row is null
            ? new AlertSettings(limits.ConsecutiveFailures, Iso(limits.FailingFor), Iso(limits.DisableAfter), null, null, null, true, null)
            : new AlertSettings(row.ConsecutiveFailures, Iso(row.FailingFor), Iso(row.DisableAfter), row.Channel, row.ChannelName, row.ChannelKind, false,
                new DateTimeOffset(DateTime.SpecifyKind(row.UpdatedAt, DateTimeKind.Utc)));
    }

    private static async Task<IResult> GetAsync(HttpContext http, NpgsqlDataSource db, IConfiguration configuration, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        return Results.Ok(await ReadAsync(c, http.Caller().EntityId, Limits.From(configuration), ct));
    }

    private static async Task<IResult> PutAsync(HttpContext http, NpgsqlDataSource db, IConfiguration configuration, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<AlertSettingsBody>(http.Request, ct);
        if (body is null) return error!;
        var limits = Limits.From(configuration);
        var entityId = http.Caller().EntityId;
        var errors = new Errors();
        // A PUT replaces the whole: every threshold is given (GET shows the current ones, the defaults included).
        var n = body.ConsecutiveFailures;
        if (n is null) errors.Add("consecutiveFailures", "is required (the default is " + limits.ConsecutiveFailures + ")");
        else if (n is < 1 or > MaxConsecutiveFailures) errors.Add("consecutiveFailures", $"must be between 1 and {MaxConsecutiveFailures}");
        var failingFor = Window(errors, "failingFor", body.FailingFor, limits.FailingFor, limits.MinimumWindow, MaxFailingFor);
        var disableAfter = Window(errors, "disableAfter", body.DisableAfter, limits.DisableAfter, limits.MinimumWindow, MaxDisableAfter);
        if (failingFor is { } f && disableAfter is { } d && d < f)
            errors.Add("disableAfter", $"must be at least failingFor ({Iso(f)}): a webhook is disabled after its incident opened, not before");
        await using var c = await db.OpenConnectionAsync(ct);
        if (body.Channel is { } channel && !await c.ExecuteScalarAsync<bool>(new CommandDefinition(
                "select exists (select from control.webhooks where id = @channel and entity_id = @entityId)", new { channel, entityId }, cancellationToken: ct)))
            errors.Add("channel", "is not a webhook or notification integration of this team (GET /webhooks, GET /integrations)");
        if (errors.Any) return errors.ToResult();
        var before = await ReadAsync(c, entityId, limits, ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        await c.ExecuteAsync(new CommandDefinition(
            """
            insert into control.alert_settings (entity_id, consecutive_failures, failing_for, disable_after, channel_webhook_id)
            values (@entityId, @n, @failingFor, @disableAfter, @Channel)
            on conflict (entity_id) do update set consecutive_failures = excluded.consecutive_failures, failing_for = excluded.failing_for,
                disable_after = excluded.disable_after, channel_webhook_id = excluded.channel_webhook_id, updated_at = now()
            """, new { entityId, n, failingFor, disableAfter, body.Channel }, tx, cancellationToken: ct));
        var after = await ReadAsync(c, entityId, limits, ct, tx);
        await Audit.Of(http, tx).RecordAsync(AuditKinds.AlertSettings, AuditActions.Update, null, "alerts", null, before.Defaults ? null : before, after);
        await tx.CommitAsync(ct);
        return Results.Ok(after);
    }

    /// <summary>An ISO 8601 duration (PT6H, P5D) or a .NET TimeSpan (06:00:00, 5.00:00:00) within its bounds; required.</summary>
    private static TimeSpan? Window(Errors errors, string field, string? text, TimeSpan fallback, TimeSpan min, TimeSpan max)
    {
        if (text is null)
        {
            errors.Add(field, $"is required, an ISO 8601 duration (the default is {Iso(fallback)})");
            return null;
        }
        TimeSpan? value = null;
        try { value = XmlConvert.ToTimeSpan(text.Trim()); }
        catch (FormatException) { }
        catch (OverflowException) { }
        if (value is null && TimeSpan.TryParseExact(text.Trim(), "c", CultureInfo.InvariantCulture, out var t)) value = t;
        if (value is not { } v)
        {
            errors.Add(field, "must be an ISO 8601 duration such as PT6H or P5D");
            return null;
        }
        if (v < min || v > max)
        {
            errors.Add(field, $"must be between {Iso(min)} and {Iso(max)}");
            return null;
        }
        return v;
    }

    private static string Iso(TimeSpan t) => XmlConvert.ToString(t);

    private static async Task<bool> WebhookExistsAsync(NpgsqlConnection c, Guid entityId, Guid id, CancellationToken ct) =>
        await c.ExecuteScalarAsync<bool>(new CommandDefinition(
            "select exists (select from control.webhooks where id = @id and entity_id = @entityId)", new { id, entityId }, cancellationToken: ct));

    private static async Task<IResult> IncidentsAsync(Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var caller = http.Caller();
        await using var c = await db.OpenConnectionAsync(ct);
        if (!await WebhookExistsAsync(c, caller.EntityId, id, ct)) return Problems.NotFound("The webhook");
        var rows = await c.QueryAsync<IncidentRow>(new CommandDefinition(
            $"""
            select id as Id, webhook_id as WebhookId, reason as Reason, failing_since as FailingSince, opened_at as OpenedAt, closed_at as ClosedAt,
                   disabled_at as DisabledAt, disabled_reason as DisabledReason
            from delivery.incident_history where webhook_id = @id and entity = @entity order by opened_at desc limit {MaxIncidents}
            """, new { id, entity = caller.Entity }, cancellationToken: ct));
        return Results.Ok(rows.Select(r => new Incident(r.Id, r.WebhookId, r.ClosedAt is null, r.Reason, Utc(r.FailingSince), Utc(r.OpenedAt),
            UtcOrNull(r.ClosedAt), UtcOrNull(r.DisabledAt), r.DisabledReason)));
    }

    private static async Task<IResult> EnableAsync(Guid id, HttpContext http, NpgsqlDataSource db, [FromKeyedServices(Extensions.Schema)] Writes writes,
        CancellationToken ct)
    {
        // A body is required, `{}` to enable without a redelivery: an empty or broken one is refused rather than read as "enable".
        var (body, error) = await Problems.ReadBodyAsync<EnableBody>(http.Request, ct);
        if (body is null) return error!;
        if (body.RedeliverFailed is not null && body.RedeliverFailedSince is not null)
            return Problems.Invalid("redeliverFailedSince", "give either redeliverFailed or redeliverFailedSince, not both");
        if (body.RedeliverFailedSince is { } since && (since > DateTimeOffset.UtcNow.AddMinutes(5) || since.Year < 2000))
            return Problems.Invalid("redeliverFailedSince", "must be a time in the past (ISO 8601)");
        var caller = http.Caller();
        await using var c = await db.OpenConnectionAsync(ct);
        var target = await c.QuerySingleOrDefaultAsync<EnableTarget>(new CommandDefinition(
            "select name as Name, kind as Kind, disabled_at as DisabledAt, disabled_reason as DisabledReason from control.webhooks where id = @id and entity_id = @entityId",
            new { id, entityId = caller.EntityId }, cancellationToken: ct));
        if (target is null) return Problems.NotFound("The webhook");

        DateTimeOffset? from = body.RedeliverFailedSince?.ToUniversalTime();
        if (body.RedeliverFailed == true)
        {
            // From the first delivery that failed during the latest incident: its creation came before the first failed
            // attempt, and the redelivery picks failed deliveries by creation time.
            var failingSince = await c.QuerySingleOrDefaultAsync<DateTime?>(new CommandDefinition(
                "select failing_since from delivery.incident_history where webhook_id = @id and entity = @entity order by opened_at desc limit 1",
                new { id, entity = caller.Entity }, cancellationToken: ct));
            if (failingSince is not { } s)
                return Problems.Invalid("redeliverFailed", "the webhook has had no incident; give redeliverFailedSince instead");
            var first = await c.QuerySingleOrDefaultAsync<DateTime?>(new CommandDefinition(
                """
                select min(created_at) from delivery.delivery_history
                where webhook_id = @id and entity = @entity and status = 'failed' and completed_at >= @s
                """, new { id, entity = caller.Entity, s = DateTime.SpecifyKind(s, DateTimeKind.Utc) }, cancellationToken: ct));
            from = Utc(first ?? s);
        }

        await using var tx = await c.BeginTransactionAsync(ct);
        // Bumping updated_at past the sender's disabled_at is what lifts its own state (a 410, a long failure).
        await c.ExecuteAsync(new CommandDefinition(
            "update control.webhooks set disabled_at = null, disabled_reason = null, updated_at = now() where id = @id and entity_id = @entityId",
            new { id, entityId = caller.EntityId }, tx, cancellationToken: ct));
        object? redelivery = null;
        var w = writes.Enlist(c, tx);
        if (from is { } f)
        {
            var count = await c.ExecuteScalarAsync<int>(new CommandDefinition(
                "select count(*) from delivery.delivery_history where webhook_id = @id and entity = @entity and status = 'failed' and created_at >= @f",
                new { id, entity = caller.Entity, f }, tx, cancellationToken: ct));
            var request = new RedeliverWebhook(Guid.CreateVersion7(), caller.Entity, null, id, f, null, caller.UserName ?? caller.KeyId.ToString(), DateTimeOffset.UtcNow);
            w.Publish(request, request.RequestId);
            redelivery = new { requestId = request.RequestId, deliveries = count, from = f };
        }
        await Audit.Of(http, tx).RecordAsync(target.Kind == "generic" ? AuditKinds.Webhook : AuditKinds.Integration, AuditActions.Enable, id, target.Name, null,
            new { disabled = target.DisabledAt is not null, disabledAt = target.DisabledAt, disabledReason = target.DisabledReason },
            new { disabled = false, redelivery });
        await w.CommitAsync(ct);
        return Results.Ok(new { id, enabled = true, redelivery });
    }

    private static DateTimeOffset Utc(DateTime t) => new(DateTime.SpecifyKind(t, DateTimeKind.Utc));
    private static DateTimeOffset? UtcOrNull(DateTime? t) => t is { } v ? Utc(v) : null;

    private sealed class EnableTarget
    {
        public string Name { get; set; } = "";
        public string Kind { get; set; } = "";
        public DateTime? DisabledAt { get; set; }
        public string? DisabledReason { get; set; }
    }

    private sealed class IncidentRow
    {
        public Guid Id { get; set; }
        public Guid WebhookId { get; set; }
        public string Reason { get; set; } = "";
        public DateTime FailingSince { get; set; }
        public DateTime OpenedAt { get; set; }
        public DateTime? ClosedAt { get; set; }
        public DateTime? DisabledAt { get; set; }
        public string? DisabledReason { get; set; }
    }
}
