using System.Text.Json;
using Microsoft.AspNetCore.DataProtection;

namespace Automations.Console.Session;

/// <summary>
/// What a form post has to say after its redirect (post/redirect/get): which form or row it concerns, success or the
/// error, errors by field (in the form's words) and the values to fill in again (never a secret value).
/// </summary>
public sealed record FlashMessage(string Form, bool Ok, string Message, Dictionary<string, string>? Errors = null, Dictionary<string, string>? Values = null)
{
    public string? Error(string field) => Errors is not null && Errors.TryGetValue(field, out var e) ? e : null;
    public string? Value(string field) => Values is not null && Values.TryGetValue(field, out var v) ? v : null;
}

/// <summary>
/// Carries a <see cref="FlashMessage"/> across the redirect in a short-lived, encrypted, HttpOnly, SameSite=Strict
/// cookie that the next page read removes, so the message shows once and a refresh neither repeats it nor re-sends.
/// </summary>
public sealed class Flash(IHttpContextAccessor accessor, IDataProtectionProvider protection)
{
    public const string CookieName = "automations.console.flash";
    private const int MaxText = 600;
    private readonly IDataProtector _protector = protection.CreateProtector("Automations.Console.Flash");
    private FlashMessage? _current;
    private bool _read;

    public void Set(FlashMessage message)
    {
        var http = accessor.HttpContext ?? throw new InvalidOperationException("No request");
        var trimmed = message with
        {
            Message = Trim(message.Message),
            Errors = message.Errors?.ToDictionary(e => e.Key, e => Trim(e.Value)),
            Values = message.Values?.ToDictionary(e => e.Key, e => Trim(e.Value)),
        };
        http.Response.Cookies.Append(CookieName, _protector.Protect(JsonSerializer.Serialize(trimmed)), new CookieOptions
        {
            HttpOnly = true,
            SameSite = SameSiteMode.Strict,
            Secure = http.Request.IsHttps,
            Path = "/",
            MaxAge = TimeSpan.FromMinutes(5),
            IsEssential = true,
        });
    }

    /// <summary>The message of the previous post, read once per request on a GET (the form post itself must not consume it).</summary>
    public FlashMessage? Current
    {
        get
        {
            if (_read) return _current;
            _read = true;
            var http = accessor.HttpContext;
            if (http is null || !HttpMethods.IsGet(http.Request.Method) || !http.Request.Cookies.TryGetValue(CookieName, out var raw)) return null;
            http.Response.Cookies.Delete(CookieName, new CookieOptions { Path = "/" });
            try { _current = JsonSerializer.Deserialize<FlashMessage>(_protector.Unprotect(raw)); }
            catch (Exception ex) when (ex is System.Security.Cryptography.CryptographicException or JsonException) { _current = null; }
            return _current;
        }
    }

    public FlashMessage? For(string form) => Current is { } c && c.Form == form ? c : null;

    private static string Trim(string s) => s.Length <= MaxText ? s : s[..MaxText] + "…";
}
