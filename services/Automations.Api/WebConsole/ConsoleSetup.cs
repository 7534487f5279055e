using System.Security.Claims;
using Automations.Core.Security;
using Automations.Persistence.Control;
using Dapper;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Npgsql;
using static Automations.Api.WebConsole.Html;

namespace Automations.Api.WebConsole;

/// <summary>The signed-in user of a console request: the key (only ever inside the encrypted cookie) and who it is now.</summary>
public sealed record ConsoleSession(string Key, ApiKeyPrincipal Principal)
{
    public string Entity => Principal.Entity;
    public string? UserName => Principal.UserName;
    public string Role => Principal.Role ?? "";
    public bool IsAdmin => Principal.IsAdmin;
}

/// <summary>
/// The web console under /console: server-rendered HTML over the Api's own REST endpoints (see docs/console.md).
/// Sign-in with an API key; the session is an encrypted HttpOnly, SameSite=Strict cookie; every POST carries an antiforgery token.
/// </summary>
public static class ConsoleSetup
{
    public const string Scheme = "Console";
    public const string CookieName = "automations.console";
    private const string SessionItem = "automations.console.session";
    private const string KeyClaim = "automations:key";

    public static IHostApplicationBuilder AddConsole(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHttpClient(ConsoleApi.ClientName, c => c.Timeout = TimeSpan.FromSeconds(45));
        builder.Services.AddSingleton<ConsoleApi>();
        // Session and antiforgery cookies are Data-Protection encrypted: keep the keys across restarts (and share them between replicas) when a path is given.
        var dp = builder.Services.AddDataProtection().SetApplicationName("Automations.Api");
        if (builder.Configuration["Console:DataProtectionKeysPath"] is { Length: > 0 } keysPath)
            dp.PersistKeysToFileSystem(new DirectoryInfo(keysPath));
        builder.Services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "automations.console.csrf";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.Cookie.Path = "/console";
        });
        builder.Services.AddAuthentication(Scheme).AddCookie(Scheme, o =>
        {
            o.Cookie.Name = CookieName;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.Cookie.Path = "/console";
            o.ExpireTimeSpan = TimeSpan.FromHours(builder.Configuration.GetValue("Console:SessionHours", 8.0));
            o.SlidingExpiration = true;
            o.LoginPath = "/console/sign-in";
        });
        return builder;
    }

    public static WebApplication MapConsole(this WebApplication app)
    {
        app.MapGet("/console", (Delegate)SignedInEntityAsync);
        app.MapGet("/console/sign-in", (HttpContext http) => SignInPage(http, null, null));
        app.MapPost("/console/sign-in", SignInAsync);
        app.MapPost("/console/sign-out", SignOutAsync);

        var entity = app.MapGroup("/console/{entity}").AddEndpointFilter(RequireSessionAsync).ExcludeFromDescription();
        entity.MapGet("", (string entity) => Results.Redirect($"/console/{ConsoleApi.Seg(entity)}/projects"));
        entity.MapSettings();
        entity.MapAutomationPages();
        entity.MapQueuePages();
        entity.MapAuditPages();
        return app;
    }

    public static ConsoleSession Session(this HttpContext http) =>
        http.Items[SessionItem] as ConsoleSession ?? throw new InvalidOperationException("Not inside the console group");

    private static async Task<IResult> SignedInEntityAsync(HttpContext http)
    {
        var result = await http.AuthenticateAsync(Scheme);
        var entity = result.Principal?.FindFirstValue("automations:entity");
        return Results.Redirect(result.Succeeded && entity is not null ? $"/console/{ConsoleApi.Seg(entity)}/projects" : "/console/sign-in");
    }

    private static IResult SignInPage(HttpContext http, string? error, string? returnUrl)
    {
        returnUrl ??= http.Request.Query["ReturnUrl"].ToString();
        var body = $"""
            <section><form method="post" action="/console/sign-in">{Csrf(http)}
            <input type="hidden" name="returnUrl" value="{E(returnUrl)}">
            <div class="field"><label for="key">API key</label>
            <small id="key-hint">A personal key with the api scope. It is kept only inside the encrypted session cookie.</small>
            <input type="password" id="key" name="key" autocomplete="off" required aria-describedby="key-hint{(error is null ? "" : " key-error")}"{(error is null ? "" : " aria-invalid=\"true\"")}>
            {(error is null ? "" : $"""<p class="error" id="key-error" role="alert">{E(error)}</p>""")}</div>
            <button type="submit">Sign in</button></form></section>
            """;
        return Page(http, "Sign in", body, null, error is null ? 200 : 400);
    }

    private static async Task<IResult> SignInAsync(HttpContext http, NpgsqlDataSource db, IAntiforgery antiforgery)
    {
        if (!await antiforgery.IsRequestValidAsync(http)) return Error(http, 400, "Form expired", "The form was stale or not sent from this site; reload the page and try again.", null);
        var form = await http.Request.ReadFormAsync(http.RequestAborted);
        var key = form["key"].ToString().Trim();
        var principal = key.Length == 0 ? null : await ApiKeyQueries.AuthenticateAsync(db, key, http.RequestAborted);
        string? returnUrl = form["returnUrl"];
        if (principal is null) return SignInPage(http, "This key is unknown or revoked.", returnUrl);
        if (!principal.HasScope(ApiKeys.Scopes.Api) || principal.Role is null)
            return SignInPage(http, "This key cannot use the console: it needs the api scope and must belong to a member of the team.", returnUrl);

        var identity = new ClaimsIdentity(
        [
            new Claim(ClaimTypes.NameIdentifier, principal.KeyId.ToString()),
            new Claim(KeyClaim, key),
            new Claim("automations:entity", principal.Entity),
        ], Scheme);
        await http.SignInAsync(Scheme, new ClaimsPrincipal(identity), new AuthenticationProperties { IsPersistent = false });
        var home = $"/console/{ConsoleApi.Seg(principal.Entity)}/projects";
        // Only a local path of this team's console: no open redirect, no hop to another team's pages.
        var target = returnUrl is { Length: > 1 } r && r.StartsWith($"/console/{ConsoleApi.Seg(principal.Entity)}/", StringComparison.Ordinal) && !r.StartsWith("//", StringComparison.Ordinal)
            ? r : home;
        return Results.Redirect(target);
    }

    private static async Task<IResult> SignOutAsync(HttpContext http, IAntiforgery antiforgery)
    {
        var result = await http.AuthenticateAsync(Scheme);
        if (result.Succeeded) http.User = result.Principal!;
        if (!await antiforgery.IsRequestValidAsync(http)) return Error(http, 400, "Form expired", "Reload the page and try again.", null);
        await http.SignOutAsync(Scheme);
        return Results.Redirect("/console/sign-in");
    }

    /// <summary>
    /// Every page of /console/{entity}: a session whose key is still valid now (not revoked, still a member), of this
    /// entity (another team's pages answer 404, as the API does), and a valid antiforgery token on every POST.
    /// </summary>
    private static async ValueTask<object?> RequireSessionAsync(EndpointFilterInvocationContext ctx, EndpointFilterDelegate next)
    {
        var http = ctx.HttpContext;
        var result = await http.AuthenticateAsync(Scheme);
        var key = result.Principal?.FindFirstValue(KeyClaim);
        if (!result.Succeeded || string.IsNullOrEmpty(key))
            return Results.Redirect("/console/sign-in?ReturnUrl=" + Uri.EscapeDataString(http.Request.Path + http.Request.QueryString));
        var db = http.RequestServices.GetRequiredService<NpgsqlDataSource>();
        var principal = await ApiKeyQueries.AuthenticateAsync(db, key, http.RequestAborted);
        if (principal is null || principal.Role is null || !principal.HasScope(ApiKeys.Scopes.Api))
        {
            await http.SignOutAsync(Scheme);
            return Results.Redirect("/console/sign-in");
        }
        http.User = result.Principal!;
        var session = new ConsoleSession(key, principal);
        http.Items[SessionItem] = session;
        if (!string.Equals(http.GetRouteValue("entity") as string, principal.Entity, StringComparison.Ordinal))
            return Error(http, 404, "Not found", "There is no such page for your team.", session);
        if (HttpMethods.IsPost(http.Request.Method) && !await http.RequestServices.GetRequiredService<IAntiforgery>().IsRequestValidAsync(http))
            return Error(http, 400, "Form expired", "The form was stale or not sent from this site; reload the page and try again.", session);
        return await next(ctx);
    }

    public static IResult AdminOnly(HttpContext http) =>
        Error(http, 403, "Forbidden", "Only a team admin can manage team secrets and webhooks.", http.Session());

    /// <summary>Projects that have automations (there is no project registry in this system), for quick links.</summary>
    public static async Task<List<string>> KnownProjectsAsync(NpgsqlDataSource db, Guid entityId, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        return (await c.QueryAsync<string>(new CommandDefinition(
            "select distinct project from control.automations where entity_id = @entityId and project is not null order by project limit 200", new { entityId }, cancellationToken: ct))).AsList();
    }
}
