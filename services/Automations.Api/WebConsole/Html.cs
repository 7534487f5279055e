using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Antiforgery;

namespace Automations.Api.WebConsole;

/// <summary>Tiny HTML builder: everything interpolated goes through <see cref="E"/>; pages share one layout and ~2 KB of CSS.</summary>
public static class Html
{
    public static string E(string? s) => WebUtility.HtmlEncode(s ?? "");

    public static string E(JsonElement e, string property) =>
        E(e.ValueKind == JsonValueKind.Object && e.TryGetProperty(property, out var v) && v.ValueKind != JsonValueKind.Null
            ? v.ValueKind == JsonValueKind.String ? v.GetString() : v.ToString()
            : "");

    public static string Str(JsonElement e, string property) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(property, out var v) && v.ValueKind != JsonValueKind.Null
            ? (v.ValueKind == JsonValueKind.String ? v.GetString() ?? "" : v.ToString())
            : "";

    public static IEnumerable<JsonElement> Items(JsonElement e) => e.ValueKind == JsonValueKind.Array ? e.EnumerateArray() : [];

    /// <summary>A hidden antiforgery field for a POST form.</summary>
    public static string Csrf(HttpContext http)
    {
        var tokens = http.RequestServices.GetRequiredService<IAntiforgery>().GetAndStoreTokens(http);
        return $"""<input type="hidden" name="{E(tokens.FormFieldName)}" value="{E(tokens.RequestToken)}">""";
    }

    /// <summary>The messages for one field (id <c>{id}-error</c>, linked from the input with aria-describedby).</summary>
    public static string FieldErrors(IDictionary<string, List<string>>? errors, string field, string id)
    {
        if (errors is null || !errors.TryGetValue(field, out var list) || list.Count == 0) return "";
        return $"""<p class="error" id="{id}-error" role="alert">{string.Join("<br>", list.Select(E))}</p>""";
    }

    public static string Described(IDictionary<string, List<string>>? errors, string field, string id) =>
        errors is not null && errors.ContainsKey(field) ? $""" aria-describedby="{id}-error" aria-invalid="true" """ : "";

    /// <summary>Errors not attached to a field of the form.</summary>
    public static string OtherErrors(IDictionary<string, List<string>>? errors, params string[] fields)
    {
        if (errors is null) return "";
        var rest = errors.Where(e => !fields.Contains(e.Key, StringComparer.OrdinalIgnoreCase)).SelectMany(e => e.Value.Select(m => e.Key.Length > 0 ? $"{e.Key}: {m}" : m)).ToList();
        return rest.Count == 0 ? "" : $"""<div class="error" role="alert">{string.Join("<br>", rest.Select(E))}</div>""";
    }

    public static string Input(string label, string name, string id, string? value, IDictionary<string, List<string>>? errors, string field,
        string type = "text", bool required = false, string? hint = null)
    {
        var sb = new StringBuilder();
        sb.Append($"""<div class="field"><label for="{id}">{E(label)}</label>""");
        if (hint is not null) sb.Append($"""<small id="{id}-hint">{E(hint)}</small>""");
        var invalid = errors is not null && errors.ContainsKey(field);
        var describedBy = string.Join(' ', new[] { hint is null ? null : id + "-hint", invalid ? id + "-error" : null }.Where(x => x is not null));
        sb.Append($"""<input type="{type}" id="{id}" name="{name}" value="{E(value)}"{(required ? " required" : "")}{(describedBy.Length > 0 ? $" aria-describedby=\"{describedBy}\"" : "")}{(invalid ? " aria-invalid=\"true\"" : "")}>""");
        sb.Append(FieldErrors(errors, field, id)).Append("</div>");
        return sb.ToString();
    }

    public static string Select(string label, string name, string id, string? value, IEnumerable<(string Value, string Text)> options,
        IDictionary<string, List<string>>? errors, string field)
    {
        var sb = new StringBuilder();
        sb.Append($"""<div class="field"><label for="{id}">{E(label)}</label><select id="{id}" name="{name}"{Described(errors, field, id)}>""");
        foreach (var (v, t) in options)
            sb.Append($"""<option value="{E(v)}"{(v == (value ?? "") ? " selected" : "")}>{E(t)}</option>""");
        sb.Append("</select>").Append(FieldErrors(errors, field, id)).Append("</div>");
        return sb.ToString();
    }

    /// <summary>All the form's errors at its top, linking to the fields (so a long form's problems are seen at once).</summary>
    public static string ErrorSummary(IDictionary<string, List<string>>? errors, IDictionary<string, string> fieldIds)
    {
        if (errors is null || errors.Count == 0) return "";
        var items = errors.SelectMany(e => e.Value.Select(m => fieldIds.TryGetValue(e.Key, out var id)
            ? $"""<li><a href="#{id}">{E(e.Key)}: {E(m)}</a></li>"""
            : $"<li>{E(e.Key.Length > 0 ? e.Key + ": " + m : m)}</li>"));
        return $"""<div class="error" role="alert" id="error-summary"><strong>The automation was not saved:</strong><ul>{string.Concat(items)}</ul></div>""";
    }

    public static string Time(JsonElement e, string property)
    {
        var s = Str(e, property);
        return DateTimeOffset.TryParse(s, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t)
            ? $"""<time datetime="{E(t.ToUniversalTime().ToString("O"))}">{E(t.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss"))} UTC</time>"""
            : E(s);
    }

    /// <summary>
    /// "History is kept for 30 days (since 3 Nov 2026)." from a history answer's `retention` object, or nothing when it has
    /// none. The date carries the time of day when the history is shorter than a day.
    /// </summary>
    public static string Reach(JsonElement answer)
    {
        if (answer.ValueKind != JsonValueKind.Object || !answer.TryGetProperty("retention", out var r) || r.ValueKind != JsonValueKind.Object) return "";
        TimeSpan keptFor;
        try { keptFor = System.Xml.XmlConvert.ToTimeSpan(Str(r, "keptFor")); }
        catch (FormatException) { return ""; }
        if (!DateTimeOffset.TryParse(Str(r, "since"), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var since)) return "";
        since = since.ToUniversalTime();
        var shown = since.ToString(keptFor < TimeSpan.FromDays(1) ? "d MMM yyyy HH:mm:ss 'UTC'" : "d MMM yyyy", CultureInfo.InvariantCulture);
        return $"""<p class="reach">History is kept for {E(Duration(keptFor))} (since <time datetime="{E(since.ToString("O", CultureInfo.InvariantCulture))}">{E(shown)}</time>).</p>""";
    }

    /// <summary>"30 days", "1 day 12 hours", "10 seconds".</summary>
    public static string Duration(TimeSpan t)
    {
        var parts = new List<string>();
        void Add(int n, string unit) { if (n > 0) parts.Add($"{n} {unit}{(n == 1 ? "" : "s")}"); }
        Add((int)t.TotalDays, "day");
        Add(t.Hours, "hour");
        Add(t.Minutes, "minute");
        Add(t.Seconds, "second");
        return parts.Count == 0 ? "less than a second" : string.Join(' ', parts);
    }

    private const string Css =
        """
        *{box-sizing:border-box}body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1a1c1f;background:#f6f7f9}
        header{background:#1a1c1f;color:#fff;padding:.5rem 1rem;display:flex;flex-wrap:wrap;gap:.5rem 1.25rem;align-items:center}
        header a,header button{color:#fff}header .brand{font-weight:700;text-decoration:none}header nav{display:flex;flex-wrap:wrap;gap:.25rem 1rem}
        header form{margin-left:auto}header .who{opacity:.8;font-size:.9em}
        main{max-width:70rem;margin:0 auto;padding:1rem}h1{font-size:1.5rem;margin:.5rem 0 1rem}h2{font-size:1.15rem;margin:1.5rem 0 .5rem}
        section,fieldset{background:#fff;border:1px solid #dde1e6;border-radius:6px;padding:1rem;margin:0 0 1rem}legend{font-weight:600;padding:0 .25rem}
        .table{overflow-x:auto}table{border-collapse:collapse;width:100%;background:#fff}th,td{text-align:left;padding:.45rem .5rem;border-bottom:1px solid #e6e8eb;vertical-align:top}
        th{font-size:.85em;color:#555}.field{margin:0 0 .8rem;display:flex;flex-direction:column;gap:.2rem;max-width:40rem}
        label{font-weight:600}small{color:#555}input,select,textarea{font:inherit;padding:.45rem .5rem;border:1px solid #9aa1a9;border-radius:4px;width:100%;background:#fff}
        textarea{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;min-height:10rem}
        button,.button{font:inherit;padding:.4rem .8rem;border-radius:4px;border:1px solid #2d5bd7;background:#2d5bd7;color:#fff;cursor:pointer;text-decoration:none;display:inline-block}
        button.secondary,.button.secondary{background:#fff;color:#2d5bd7}button.danger{background:#b42318;border-color:#b42318}header button{background:none;border:1px solid #fff}
        :focus-visible{outline:3px solid #f5a623;outline-offset:2px}
        .error{color:#b42318;margin:.2rem 0}div.error{background:#fdecea;border:1px solid #f5c2bd;padding:.5rem .75rem;border-radius:4px;margin:0 0 1rem}
        .notice{background:#e8f1ff;border:1px solid #b9d2fb;padding:.5rem .75rem;border-radius:4px;margin:0 0 1rem}
        .row-actions{display:flex;flex-wrap:wrap;gap:.35rem}.row-actions form{margin:0}details.menu summary{cursor:pointer;color:#2d5bd7}
        pre{background:#f0f2f5;padding:.6rem;border-radius:4px;overflow-x:auto;white-space:pre-wrap;word-break:break-all;font-size:.85em}
        .vars code{display:inline-block;margin:.1rem .2rem;background:#f0f2f5;padding:0 .25rem;border-radius:3px}
        ul.complete{list-style:none;margin:.1rem 0 0;padding:.2rem 0;border:1px solid #9aa1a9;border-radius:4px;background:#fff;max-height:12rem;overflow-y:auto}
        ul.complete li{padding:.15rem .5rem;cursor:pointer;font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}ul.complete li[aria-selected=true]{background:#e8f1ff}
        .badge{font-size:.8em;padding:.05rem .4rem;border-radius:3px;background:#e6e8eb}.badge.on{background:#d1f3dc}.badge.off{background:#fde2e1}
        input[type=radio],input[type=checkbox]{width:auto;margin:0}label.radio{display:inline-flex;gap:.4rem;align-items:center;font-weight:400;margin-right:1.25rem}
        td code{word-break:break-all}.filter{display:flex;gap:.5rem;align-items:flex-end;margin:0 0 1rem}.filters{display:grid;grid-template-columns:repeat(auto-fill,minmax(13rem,1fr));gap:.5rem 1rem;align-items:end}.filters .field{margin:0}.filters>div.error{grid-column:1/-1}.filter .field{margin:0}section>h2:first-child{margin-top:0}.sr{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0);white-space:nowrap}
        @media (max-width:40rem){main{padding:.6rem}th,td{padding:.35rem}header form{margin-left:0}
        table.stack thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}table.stack tr{display:block;border-bottom:2px solid #dde1e6;padding:.3rem 0}
        table.stack td{display:flex;gap:.5rem;border:0;padding:.2rem .35rem}table.stack td::before{content:attr(data-label);font-weight:600;min-width:6.5rem;color:#555}}
        """;

    public static IResult Page(HttpContext http, string title, string body, ConsoleSession? session = null, int status = 200)
    {
        var nav = "";
        if (session is not null)
        {
            var en = E(session.Entity);
            var admin = session.IsAdmin ? $"""<a href="/console/{en}/settings/secrets">Secrets</a><a href="/console/{en}/settings/integrations">Integrations</a><a href="/console/{en}/settings/audit">Audit</a>""" : "";
            nav = $"""
                <nav aria-label="Main">{admin}<a href="/console/{en}/settings/webhooks">Webhooks</a><a href="/console/{en}/projects">Projects</a><a href="/console/{en}/automations">Team automations</a><a href="/console/{en}/queues">Launch queues</a></nav>
                <span class="who">{E(session.UserName ?? "key")} · {en} · {E(session.Role)}</span>
                <form method="post" action="/console/sign-out">{Csrf(http)}<button type="submit">Sign out</button></form>
                """;
        }
        var home = session is null ? "/console" : $"/console/{E(session.Entity)}";
        var html = $"""
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
            <title>{E(title)} · Automations</title><style>{Css}</style></head>
            <body><header><a class="brand" href="{home}">Automations</a>{nav}</header>
            <main id="main"><h1>{E(title)}</h1>
            {body}
            </main></body></html>
            """;
        var headers = http.Response.Headers;
        // Inline style and the two small inline scripts only; forms post to this origin; never framed.
        headers.ContentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
        headers.XContentTypeOptions = "nosniff";
        headers["Referrer-Policy"] = "same-origin";
        headers.CacheControl = "no-store";
        return Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8, status);
    }

    public static IResult Error(HttpContext http, int status, string title, string detail, ConsoleSession? session) =>
        Page(http, title, $"""<div class="error" role="alert">{E(detail)}</div>""", session, status);
}
