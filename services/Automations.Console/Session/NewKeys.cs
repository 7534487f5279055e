using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;

namespace Automations.Console.Session;

/// <summary>A key just created, as the Api answered it once.</summary>
public sealed record NewKey(Guid Id, string Name, string Key);

/// <summary>
/// Carries a new API key across the create form's redirect to the one render that shows it: an encrypted (Data
/// Protection, with a two-minute expiry of its own), HttpOnly, SameSite=Strict cookie scoped to the team's keys page,
/// kept two minutes, deleted by the page that reads it (a refresh does not show the key again), readable only with the
/// same session key. The key is never in an address, a log or the Flash message.
/// </summary>
public sealed class NewKeys(IHttpContextAccessor accessor, IDataProtectionProvider protection)
{
    public const string CookieName = "automations.console.newkey";
    private const int MaxName = 128;
    private static readonly TimeSpan Kept = TimeSpan.FromMinutes(2);
    private readonly ITimeLimitedDataProtector _protector = protection.CreateProtector("Automations.Console.NewKeys").ToTimeLimitedDataProtector();

    private sealed record Stored(string Owner, NewKey Key);

    /// <param name="owner">the session key's fingerprint: another session with the same cookie jar cannot read it.</param>
    /// <param name="pagePath">the keys page, the only path the browser sends the cookie to.</param>
    public void Keep(NewKey key, string owner, string pagePath)
    {
        var http = accessor.HttpContext ?? throw new InvalidOperationException("No request");
        // Bounded: a name is at most 128 characters at the Api, and a key about fifty.
        var stored = new Stored(SealedCookie.Owner(owner), key with { Name = key.Name.Length <= MaxName ? key.Name : key.Name[..MaxName] + "…" });
        http.Response.Cookies.Append(CookieName, _protector.Protect(JsonSerializer.Serialize(stored), Kept), SealedCookie.Options(http, pagePath, Kept));
    }

    /// <summary>The key kept for this page, once: the cookie is deleted as it is read (on a GET only, as the Flash is).</summary>
    public NewKey? Take(string owner, string pagePath)
    {
        var http = accessor.HttpContext;
        if (http is null || !HttpMethods.IsGet(http.Request.Method) || !http.Request.Cookies.TryGetValue(CookieName, out var raw)) return null;
        // Without MaxAge: a deleting cookie's expiry must be the past, which a MaxAge would override.
        http.Response.Cookies.Delete(CookieName, SealedCookie.Options(http, pagePath, null));
        try
        {
            var stored = JsonSerializer.Deserialize<Stored>(_protector.Unprotect(raw));
            return stored is not null && stored.Owner == SealedCookie.Owner(owner) ? stored.Key : null;
        }
        catch (Exception ex) when (ex is CryptographicException or JsonException)
        {
            return null;
        }
    }
}
