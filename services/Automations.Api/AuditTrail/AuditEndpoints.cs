using System.Buffers.Text;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Automations.Api.Access;
using Automations.Api.History;
using Automations.Api.Http;
using Dapper;
using Npgsql;

namespace Automations.Api.AuditTrail;

/// <summary>
/// GET /v1/entities/{entity}/audit (admins): the team's audit trail, newest first, filtered by kind, action, actor,
/// target, project and time, in keyset pages (`cursor` is the previous page's nextCursor), with how far back it reaches
/// (<see cref="HistoryReach"/>: the trail is kept as long as the history).
/// </summary>
public static class AuditEndpoints
{
    public const int DefaultLimit = 100;
    public const int MaxLimit = 500;
    private const int MaxFilterLength = 200;

    public sealed record AuditTarget(Guid? Id, string? Name);

    public sealed record AuditEntry(Guid Id, DateTimeOffset At, string? Actor, Guid? KeyId, string? KeyName, string Kind, string Action, AuditTarget Target,
        string? Project, JsonElement? Before, JsonElement? After);

    /// <param name="NextCursor">The cursor of the next (older) page; null on the last.</param>
    /// <param name="Retention">How far back the trail reaches.</param>
    public sealed record AuditPage(IReadOnlyList<AuditEntry> Entries, string? NextCursor, HistoryReach Retention);

    public static RouteGroupBuilder MapAudit(this RouteGroupBuilder entity)
    {
        entity.MapGet("/audit", ListAsync).RequireEntityAdmin().WithTags("Audit").Produces<AuditPage>().ProducesValidationProblem()
            .WithSummary("The team's audit trail, newest first (admins): ?kind=&action=&actor=&target=&project=&since=&until=&limit=&cursor=.");
        return entity;
    }

    private static async Task<IResult> ListAsync(HttpContext http, NpgsqlDataSource db, string? kind, string? action, string? actor, string? target,
        string? project, string? since, string? until, int? limit, string? cursor, CancellationToken ct)
    {
        var errors = new Errors();
        if (kind is not null && !AuditKinds.All.Contains(kind, StringComparer.Ordinal)) errors.Add("kind", $"must be one of {string.Join(", ", AuditKinds.All)}");
        if (action is not null && !AuditActions.All.Contains(action, StringComparer.Ordinal)) errors.Add("action", $"must be one of {string.Join(", ", AuditActions.All)}");
        foreach (var (field, value) in new[] { ("actor", actor), ("target", target), ("project", project) })
            if (value is { Length: 0 or > MaxFilterLength }) errors.Add(field, $"must be 1 to {MaxFilterLength} characters");
        var from = Timestamp(errors, "since", since);
        var to = Timestamp(errors, "until", until);
        if (from is not null && to is not null && to < from) errors.Add("until", "must not be before since");
        if (limit is < 1 or > MaxLimit) errors.Add("limit", $"must be between 1 and {MaxLimit}");
        (DateTime At, Guid Id)? after = null;
        if (cursor is not null)
        {
            if (Decode(cursor) is { } position) after = position;
            else errors.Add("cursor", "is not a cursor of this list (pass the nextCursor of the previous page)");
        }
        if (errors.Any) return errors.ToResult();

        var take = limit ?? DefaultLimit;
        // A target is named (its name at the time) or given by id.
        Guid? targetId = Guid.TryParse(target, out var t) ? t : null;
        await using var c = await db.OpenConnectionAsync(ct);
        var rows = (await c.QueryAsync<Row>(new CommandDefinition(
            """
            select a.id as Id, a.at as At, a.actor as Actor, a.key_id as KeyId, k.name as KeyName, a.kind as Kind, a.action as Action,
                   a.target_id as TargetId, a.target_name as TargetName, a.project as Project, a.before::text as Before, a.after::text as After
            from control.audit a left join control.api_keys k on k.id = a.key_id
            where a.entity_id = @entityId
              and (@kind::text is null or a.kind = @kind) and (@action::text is null or a.action = @action)
              and (@actor::text is null or a.actor = @actor) and (@project::text is null or a.project = @project)
              and (@target::text is null or a.target_name = @target or a.target_id = @targetId)
              and (@from::timestamptz is null or a.at >= @from) and (@to::timestamptz is null or a.at < @to)
              and (@afterAt::timestamptz is null or (a.at, a.id) < (@afterAt, @afterId))
            order by a.at desc, a.id desc
            limit @fetch
            """,
            new
            {
                entityId = http.Caller().EntityId, kind, action, actor, project, target, targetId, from, to,
                afterAt = after?.At, afterId = after?.Id, fetch = take + 1,
            }, cancellationToken: ct))).AsList();

        var page = rows.Take(take).Select(r => r.ToEntry()).ToList();
        var next = rows.Count > take ? Encode(rows[take - 1].At, rows[take - 1].Id) : null;
        return Results.Ok(new AuditPage(page, next, HistoryReach.Announce(http)));
    }

    private static DateTime? Timestamp(Errors errors, string field, string? text)
    {
        if (text is null) return null;
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var t)
            && t.Year is > 1 and < 9999)
            return t.UtcDateTime;
        errors.Add(field, "must be an ISO 8601 timestamp (2026-12-04T15:30:00Z)");
        return null;
    }

    /// <summary>The position after an entry: its time in microseconds (timestamptz's resolution) and its id, base64url.</summary>
    internal static string Encode(DateTime at, Guid id)
    {
        var micros = (at.ToUniversalTime() - DateTime.UnixEpoch).Ticks / 10;
        return Base64Url.EncodeToString(Encoding.ASCII.GetBytes($"{micros.ToString(CultureInfo.InvariantCulture)}.{id:N}"));
    }

    internal static (DateTime At, Guid Id)? Decode(string cursor)
    {
        if (cursor.Length > 100) return null;
        byte[] bytes;
        try
        {
            bytes = Base64Url.DecodeFromChars(cursor);
        }
        catch (FormatException)
        {
            return null;
        }
        var parts = Encoding.ASCII.GetString(bytes).Split('.');
        if (parts.Length != 2 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var micros)
            || !Guid.TryParseExact(parts[1], "N", out var id) || micros > (DateTime.MaxValue - DateTime.UnixEpoch).Ticks / 10)
            return null;
        return (DateTime.UnixEpoch.AddTicks(micros * 10), id);
    }

    private sealed class Row
    {
        public Guid Id { get; set; }
        public DateTime At { get; set; }
        public string? Actor { get; set; }
        public Guid? KeyId { get; set; }
        public string? KeyName { get; set; }
        public string Kind { get; set; } = "";
        public string Action { get; set; } = "";
        public Guid? TargetId { get; set; }
        public string? TargetName { get; set; }
        public string? Project { get; set; }
        public string? Before { get; set; }
        public string? After { get; set; }

        public AuditEntry ToEntry() => new(Id, new DateTimeOffset(DateTime.SpecifyKind(At, DateTimeKind.Utc)), Actor, KeyId, KeyName, Kind, Action,
            new AuditTarget(TargetId, TargetName), Project, Parse(Before), Parse(After));

        private static JsonElement? Parse(string? json)
        {
            if (json is null) return null;
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.Clone();
        }
    }
}
