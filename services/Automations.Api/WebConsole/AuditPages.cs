using System.Text;
using System.Text.Json;
using Automations.Api.AuditTrail;
using static Automations.Api.WebConsole.Html;

namespace Automations.Api.WebConsole;

/// <summary>
/// Team settings · Audit (admins): the team's audit trail from GET /audit, newest first, with its filters, a page at a
/// time ("Older entries" follows the answer's nextCursor). Filters the API refuses are shown as its field errors.
/// </summary>
public static class AuditPages
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private static readonly string[] Filters = ["kind", "action", "actor", "target", "project", "since", "until"];

    public static RouteGroupBuilder MapAuditPages(this RouteGroupBuilder g)
    {
        g.MapGet("/settings/audit", AuditAsync);
        return g;
    }

    private static async Task<IResult> AuditAsync(HttpContext http, ConsoleApi api)
    {
        var s = http.Session();
        if (!s.IsAdmin) return ConsoleSetup.AdminOnly(http);
        var values = Filters.ToDictionary(f => f, f => http.Request.Query[f].ToString().Trim());
        var cursor = http.Request.Query["cursor"].ToString();
        // Only the filters that are set: an empty field means "any", which the API says by leaving the parameter out.
        var query = string.Join("&", values.Where(v => v.Value.Length > 0).Select(v => $"{v.Key}={Uri.EscapeDataString(v.Value)}"));
        var answer = await api.GetAsync(s.Key, $"/v1/entities/{ConsoleApi.Seg(s.Entity)}/audit?limit=50{(query.Length > 0 ? "&" + query : "")}"
            + (cursor.Length > 0 ? "&cursor=" + Uri.EscapeDataString(cursor) : ""), http.RequestAborted);
        var errors = answer.Ok ? null : answer.Errors();
        if (!answer.Ok && (int)answer.Status != StatusCodes.Status400BadRequest) return Error(http, (int)answer.Status, "Audit", answer.Detail, s);

        var kinds = new List<(string, string)> { ("", "any kind") };
        kinds.AddRange(AuditKinds.All.Select(k => (k, k.Replace('_', ' '))));
        var actions = new List<(string, string)> { ("", "any action") };
        actions.AddRange(AuditActions.All.Select(a => (a, a)));
        var sb = new StringBuilder();
        sb.Append($"""
            <section aria-labelledby="filter-h"><h2 id="filter-h">Filter</h2>
            <form method="get" id="audit-filter" class="filters">{OtherErrors(errors, Filters)}
            {Select("Kind", "kind", "audit-kind", values["kind"], kinds, errors, "kind")}
            {Select("Action", "action", "audit-action", values["action"], actions, errors, "action")}
            {Input("Who (user)", "actor", "audit-actor", values["actor"], errors, "actor")}
            {Input("Target (name or id)", "target", "audit-target", values["target"], errors, "target")}
            {Input("Project", "project", "audit-project", values["project"], errors, "project")}
            {Input("Since", "since", "audit-since", values["since"], errors, "since", hint: "ISO 8601, e.g. 2026-12-01T00:00:00Z")}
            {Input("Until (before)", "until", "audit-until", values["until"], errors, "until")}
            <div><button type="submit">Show</button></div></form></section>
            """);
        if (answer.Ok)
        {
            sb.Insert(0, Reach(answer.Body));
            var rows = new StringBuilder();
            foreach (var e in Items(answer.Body.GetProperty("entries")))
            {
                var target = e.TryGetProperty("target", out var t) ? Str(t, "name") : "";
                var project = Str(e, "project");
                rows.Append($"""
                    <tr><td data-label="When">{Time(e, "at")}</td>
                    <td data-label="Who">{E(e, "actor")}<br><small>{E(Str(e, "keyName").Length > 0 ? Str(e, "keyName") : Str(e, "keyId"))}</small></td>
                    <td data-label="What">{E(Str(e, "kind").Replace('_', ' '))} <strong>{E(e, "action")}</strong></td>
                    <td data-label="Target">{E(target)}{(project.Length > 0 ? $"<br><small>project {E(project)}</small>" : "")}</td>
                    <td data-label="Change">{Change(e)}</td></tr>
                    """);
            }
            var next = Str(answer.Body, "nextCursor");
            var older = next.Length == 0 ? ""
                : $"""<p><a class="button secondary" id="audit-older" href="?{(query.Length > 0 ? query + "&" : "")}cursor={E(Uri.EscapeDataString(next))}">Older entries</a></p>""";
            sb.Append(rows.Length == 0
                ? """<section><p>No entries.</p></section>"""
                : $"""
                  <section aria-labelledby="list-h"><h2 id="list-h">Entries</h2><div class="table"><table id="audit" class="stack"><thead><tr><th scope="col">When</th><th scope="col">Who</th><th scope="col">What</th><th scope="col">Target</th><th scope="col">Change</th></tr></thead>
                  <tbody>{rows}</tbody></table></div>{older}</section>
                  """);
        }
        return Page(http, "Team settings · Audit", sb.ToString(), s, answer.Ok ? 200 : 400);
    }

    /// <summary>Before and after, folded: they are the objects' public views (secret values are never in them).</summary>
    private static string Change(JsonElement e)
    {
        var parts = new StringBuilder();
        foreach (var side in new[] { "before", "after" })
            if (e.TryGetProperty(side, out var v) && v.ValueKind != JsonValueKind.Null)
                parts.Append($"""<details><summary>{side}</summary><pre>{E(JsonSerializer.Serialize(v, Indented))}</pre></details>""");
        return parts.ToString();
    }
}
