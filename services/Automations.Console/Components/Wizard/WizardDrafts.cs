using System.Security.Cryptography;
using System.Text.Json;
using Automations.Console.Session;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Caching.Memory;

namespace Automations.Console.Components.Wizard;

/// <summary>
/// What a wizard post brings back to the page it redirects to: the values typed (a payload is too long for the message
/// cookie), the errors of that post by field id, its message and a preview's answer. Never a secret value: the form
/// holds secret names only.
/// </summary>
public sealed record WizardDraft(string Owner, string Page, WizardForm Values, Dictionary<string, string> Errors, string? Message, bool Ok,
    JsonElement? Preview, string? PreviewProblem);

/// <summary>
/// Drafts travel in the browser when they fit, so any console replica shows them: a sealed cookie
/// (<see cref="SealedCookie"/>, scoped to the wizard's page, thirty minutes). A draft too large for a cookie (a long
/// payload with a preview's answer) waits in this replica's memory instead, the one case where several replicas need
/// sticky sessions (without them the page says the draft is gone and the user posts again). Either way only the same key
/// on the same wizard reads it, and its errors, message and preview show once: the first read keeps the values only, so
/// a refresh shows the form as typed without the last post's verdicts.
/// </summary>
public sealed class WizardDrafts(IHttpContextAccessor accessor, IDataProtectionProvider protection, IMemoryCache cache)
{
    public const string CookieName = "automations.console.wizard";
    private static readonly TimeSpan Keep = TimeSpan.FromMinutes(30);
    private readonly IDataProtector _protector = protection.CreateProtector("Automations.Console.WizardDrafts");

    private sealed record Stored(string Id, WizardDraft Draft);

    /// <summary>Keeps the draft for the wizard at <see cref="WizardDraft.Page"/>; answers the id its address carries (?draft=).</summary>
    public string Store(WizardDraft draft)
    {
        var id = Convert.ToHexString(RandomNumberGenerator.GetBytes(12)).ToLowerInvariant();
        var http = accessor.HttpContext;
        var sealedDraft = SealedCookie.Seal(_protector, new Stored(id, draft));
        if (http is not null && sealedDraft.Length <= SealedCookie.MaxChars)
            http.Response.Cookies.Append(CookieName, sealedDraft, SealedCookie.Options(http, draft.Page, Keep));
        else
            cache.Set("wizard:" + id, draft, new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = Keep });
        return id;
    }

    public WizardDraft? Take(string? id, string owner, string page)
    {
        if (id is not { Length: > 0 and <= 64 }) return null;
        var http = accessor.HttpContext;
        if (http is not null && http.Request.Cookies.TryGetValue(CookieName, out var raw)
            && SealedCookie.Open<Stored>(_protector, raw) is { } stored && stored.Id == id)
        {
            if (stored.Draft.Owner != owner || stored.Draft.Page != page) return null;
            if (!http.Response.HasStarted)
                http.Response.Cookies.Append(CookieName, SealedCookie.Seal(_protector, stored with { Draft = ValuesOnly(stored.Draft) }),
                    SealedCookie.Options(http, page, Keep));
            return stored.Draft;
        }
        if (!cache.TryGetValue("wizard:" + id, out WizardDraft? draft) || draft is null || draft.Owner != owner || draft.Page != page) return null;
        cache.Set("wizard:" + id, ValuesOnly(draft), new MemoryCacheEntryOptions { Size = 1, AbsoluteExpirationRelativeToNow = Keep });
        return draft;
    }

    private static WizardDraft ValuesOnly(WizardDraft draft) =>
        draft with { Errors = new(StringComparer.Ordinal), Message = null, Preview = null, PreviewProblem = null };
}
