using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.DataProtection;

namespace Automations.Console.Session;

/// <summary>
/// A webhook test's outcome (the payload sent and the Api's report, or the payload's error), kept for the page the post
/// redirects to. <see cref="PayloadCut"/>: the payload was too long to keep beside the report and is not filled in again.
/// </summary>
public sealed record TestRun(Guid WebhookId, string Owner, string Payload, JsonElement? Report, string? PayloadError, string? Message, bool PayloadCut = false);

/// <summary>
/// Carries a test's outcome across the redirect in the browser, not in one replica's memory, so any replica can show it:
/// an encrypted (Data Protection), compressed, HttpOnly, SameSite=Strict cookie scoped to the webhook's test page, kept
/// ten minutes (a refresh shows the result again; the next test replaces it). It is bounded: the bodies and headers shown
/// are shortened, step by step, until the cookie fits in <see cref="MaxCookie"/> characters. Only the same key sees it.
/// </summary>
public sealed class TestResults(IHttpContextAccessor accessor, IDataProtectionProvider protection)
{
    public const string CookieName = "automations.console.test";
    /// <summary>Browsers keep a cookie of up to 4 KB, name and attributes included.</summary>
    public const int MaxCookie = SealedCookie.MaxChars;
    private static readonly TimeSpan Kept = TimeSpan.FromMinutes(10);
    private readonly IDataProtector _protector = protection.CreateProtector("Automations.Console.TestResults");

    private sealed record Stored(string Id, TestRun Run);

    /// <summary>Keeps the outcome for the test page at <paramref name="pagePath"/> and answers the id its address carries (?run=).</summary>
    public string Store(TestRun run, string pagePath)
    {
        var http = accessor.HttpContext ?? throw new InvalidOperationException("No request");
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(8)).ToLowerInvariant();
        http.Response.Cookies.Append(CookieName, Encode(new Stored(id, run with { Owner = SealedCookie.Owner(run.Owner) })), SealedCookie.Options(http, pagePath, Kept));
        return id;
    }

    public TestRun? Find(string? id, Guid webhookId, string owner)
    {
        var http = accessor.HttpContext;
        if (id is not { Length: > 0 } || http is null || !http.Request.Cookies.TryGetValue(CookieName, out var raw)) return null;
        var stored = Decode(raw);
        return stored is not null && stored.Id == id && stored.Run.WebhookId == webhookId && stored.Run.Owner == SealedCookie.Owner(owner) ? stored.Run : null;
    }

    /// <summary>The cookie's value, shortened until it fits: bodies first, then headers, then the payload typed.</summary>
    private string Encode(Stored s)
    {
        (int Body, int Header, int Payload)[] steps = [(2000, 300, 4000), (1000, 200, 2000), (500, 120, 1000), (200, 80, 400), (60, 40, 0)];
        foreach (var (body, header, payload) in steps)
        {
            var cut = s.Run.Payload.Length > payload;
            var run = s.Run with
            {
                Report = s.Run.Report is { } r ? Bound(r, body, header) : null,
                Payload = cut ? "" : s.Run.Payload,
                PayloadCut = s.Run.PayloadCut || cut,
                PayloadError = Cut(s.Run.PayloadError, 300),
                Message = Cut(s.Run.Message, 300),
            };
            var value = Protect(s with { Run = run });
            if (value.Length <= MaxCookie) return value;
        }
        // Only a report with very many headers gets here: the outcome without them.
        return Protect(s with { Run = s.Run with { Report = s.Run.Report is { } rr ? Bound(rr, 60, 0) : null, Payload = "", PayloadCut = true } });
    }

    private Stored? Decode(string raw) => SealedCookie.Open<Stored>(_protector, raw);

    private string Protect(Stored stored) => SealedCookie.Seal(_protector, stored);

    /// <summary>The report with its bodies at most <paramref name="body"/> characters (marked truncated) and at most 20 headers of <paramref name="header"/>.</summary>
    private static JsonElement Bound(JsonElement report, int body, int header)
    {
        if (JsonNode.Parse(report.GetRawText()) is not JsonObject o) return report;
        foreach (var (property, flag) in new[] { ("responseBody", "responseTruncated"), ("requestBody", "requestTruncated") })
            if (o[property] is JsonValue v && v.TryGetValue<string>(out var text) && text.Length > body)
            {
                o[property] = text[..body] + "…";
                o[flag] = true;
            }
        if (o["error"] is JsonValue e && e.TryGetValue<string>(out var error)) o["error"] = Cut(error, 300);
        foreach (var property in new[] { "responseHeaders", "requestHeaders" })
            if (o[property] is JsonObject headers)
            {
                var kept = new JsonObject();
                foreach (var (name, value) in headers.Take(header == 0 ? 0 : 20))
                    kept[Cut(name, 80)!] = Cut(value?.ToString() ?? "", header);
                o[property] = kept;
            }
        return JsonSerializer.SerializeToElement(o);
    }

    private static string? Cut(string? s, int max) => s is null || s.Length <= max ? s : s[..max] + "…";
}
