using System.Net;
using System.Security.Claims;
using Automations.Console.Api;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;

namespace Automations.Console.Session;

/// <summary>
/// Sign-in with an API key. The key is kept only inside the session cookie (HttpOnly, SameSite=Strict, encrypted by
/// Data Protection) and re-checked against the Api (GET /v1/me) on every page request, so a revoked key, a removed
/// member or a key that lost the api scope ends the session at the next click, and a changed role shows at once.
/// </summary>
public static class ConsoleSignIn
{
    public const string Scheme = "Console";
    public const string CookieName = "automations.console.session";
    public const string KeyClaim = "automations:key";
    public const string EntityClaim = "automations:entity";
    public const string RoleClaim = "automations:role";
    public const string UserClaim = "automations:user";

    public enum Outcome { SignedIn, UnknownKey, NotForTheConsole, ApiDown }

    /// <summary>Who the key is, by the Api.</summary>
    public static async Task<(Outcome Outcome, ClaimsIdentity? Identity)> IdentifyAsync(ApiClient api, string key, CancellationToken ct)
    {
        var me = await api.GetAsync(key, "/v1/me", ct);
        if (me.Unreachable || (int)me.Status >= 500) return (Outcome.ApiDown, null);
        if (me.Status == HttpStatusCode.Unauthorized || !me.Ok) return (Outcome.UnknownKey, null);
        var scopes = me.Body.TryGetProperty("scopes", out var s) && s.ValueKind == System.Text.Json.JsonValueKind.Array
            ? s.EnumerateArray().Select(x => x.GetString()).ToArray() : [];
        var role = me.Str("role");
        if (!scopes.Contains("api") || role.Length == 0) return (Outcome.NotForTheConsole, null);
        var identity = new ClaimsIdentity(
        [
            new Claim(KeyClaim, key),
            new Claim(EntityClaim, me.Str("entity")),
            new Claim(RoleClaim, role),
            new Claim(UserClaim, me.Str("user")),
        ], Scheme, UserClaim, RoleClaim);
        return (Outcome.SignedIn, identity);
    }

    public static async Task RecheckKeyAsync(CookieValidatePrincipalContext context)
    {
        var path = context.HttpContext.Request.Path;
        // Static files, the framework's script and probes show nothing of the team: no call to the Api for them.
        if (path.StartsWithSegments("/health") || path.StartsWithSegments("/_framework") || Path.HasExtension(path.Value)) return;
        var key = context.Principal?.FindFirstValue(KeyClaim);
        if (string.IsNullOrEmpty(key))
        {
            context.RejectPrincipal();
            return;
        }
        var api = context.HttpContext.RequestServices.GetRequiredService<ApiClient>();
        var (outcome, identity) = await IdentifyAsync(api, key, context.HttpContext.RequestAborted);
        switch (outcome)
        {
            case Outcome.SignedIn:
                context.ReplacePrincipal(new ClaimsPrincipal(identity!));
                break;
            case Outcome.ApiDown:
                // Keep the session: the pages say the Api is not answering, and the next click checks again.
                break;
            default:
                context.RejectPrincipal();
                await context.HttpContext.SignOutAsync(Scheme);
                break;
        }
    }

    public static async Task<IResult> SignOutAsync(HttpContext http, IAntiforgery antiforgery)
    {
        if (!await antiforgery.IsRequestValidAsync(http))
            return Results.Problem(statusCode: 400, title: "Form expired", detail: "Reload the page and sign out again.");
        await http.SignOutAsync(Scheme);
        return Results.Redirect("/sign-in");
    }
}
