using Automations.Console.Api;
using Automations.Console.Components;
using Automations.Console.Components.Wizard;
using Automations.Console.Session;
using Automations.ServiceDefaults;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Automations.Console;

/// <summary>
/// The web console: Razor components rendered on the server (no interactive render mode), a client of the public Api
/// only (see docs/console.md). It holds no connection string and never opens the database.
/// </summary>
public static class Extensions
{
    public const string ServiceName = "automations-console";

    public static WebApplicationBuilder AddConsole(this WebApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddJsonConsole(o =>
        {
            o.IncludeScopes = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
        });
        // No appsettings.json of its own: in a process that hosts the Api too (the browser tests) it would replace the
        // Api's. Its defaults are here and in ConsoleOptions.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);
        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(ServiceName))
            .WithTracing(t => t
                .AddAspNetCoreInstrumentation(o => o.Filter = ctx => !ctx.Request.Path.StartsWithSegments("/health", StringComparison.Ordinal))
                .AddHttpClientInstrumentation())
            .WithMetrics(m => m.AddAspNetCoreInstrumentation().AddHttpClientInstrumentation().AddRuntimeInstrumentation());
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
            otel.UseOtlpExporter();

        var options = ConsoleOptions.From(builder.Configuration);
        builder.Services.AddSingleton(options);
        builder.Services.AddHttpClient(ApiClient.ClientName, c =>
        {
            c.BaseAddress = options.ApiBaseUrl;
            c.Timeout = TimeSpan.FromSeconds(45);
        });
        builder.Services.AddSingleton<ApiClient>();
        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [Automations.ServiceDefaults.Extensions.LiveTag])
            .AddCheck<ApiHealthCheck>("api", tags: [Automations.ServiceDefaults.Extensions.ReadyTag]);

        // Session, antiforgery and message cookies are Data-Protection encrypted: keep the keys across restarts (and share
        // them between replicas) when a path is given.
        var dp = builder.Services.AddDataProtection().SetApplicationName("Automations.Console");
        if (options.DataProtectionKeysPath is { Length: > 0 } keysPath)
            dp.PersistKeysToFileSystem(new DirectoryInfo(keysPath));
        builder.Services.AddAntiforgery(o =>
        {
            o.Cookie.Name = "automations.console.csrf";
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
        });
        builder.Services.AddAuthentication(ConsoleSignIn.Scheme).AddCookie(ConsoleSignIn.Scheme, o =>
        {
            o.Cookie.Name = ConsoleSignIn.CookieName;
            o.Cookie.HttpOnly = true;
            o.Cookie.SameSite = SameSiteMode.Strict;
            o.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            o.ExpireTimeSpan = TimeSpan.FromHours(options.SessionHours);
            o.SlidingExpiration = true;
            o.LoginPath = "/sign-in";
            o.AccessDeniedPath = "/sign-in";
            o.Events.OnValidatePrincipal = ConsoleSignIn.RecheckKeyAsync;
        });
        builder.Services.AddAuthorization();
        builder.Services.AddCascadingAuthenticationState();
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddScoped<TeamSession>();
        builder.Services.AddScoped<Flash>();
        builder.Services.AddMemoryCache(o => o.SizeLimit = 2000);
        builder.Services.AddScoped<TestResults>();
        builder.Services.AddScoped<Automations.Console.Components.Wizard.WizardDrafts>();
        builder.Services.AddScoped<NewKeys>();
        builder.Services.AddRazorComponents();
        return builder;
    }

    public static WebApplication MapConsole(this WebApplication app)
    {
        app.Use(SecurityHeaders);
        app.UseStatusCodePagesWithReExecute("/not-found", createScopeForStatusCodePages: true);
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();
        app.MapStaticAssets(Path.Combine(AppContext.BaseDirectory, "Automations.Console.staticwebassets.endpoints.json"));
        app.MapPost("/sign-out", ConsoleSignIn.SignOutAsync);
        app.MapWizardLivePreview();
        app.MapRazorComponents<App>();
        app.MapDefaultEndpoints();
        return app;
    }

    /// <summary>
    /// Pages are never cached (they show a team's secrets' names) and run only this site's stylesheet and the framework's
    /// script; forms post only here; no framing.
    /// </summary>
    private static Task SecurityHeaders(HttpContext http, Func<Task> next)
    {
        http.Response.OnStarting(() =>
        {
            var h = http.Response.Headers;
            h.XContentTypeOptions = "nosniff";
            h["Referrer-Policy"] = "same-origin";
            h.ContentSecurityPolicy = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self'; connect-src 'self'; " +
                                      "form-action 'self'; frame-ancestors 'none'; base-uri 'self'";
            if (http.Response.ContentType?.StartsWith("text/html", StringComparison.Ordinal) == true)
                h.CacheControl = "no-store";
            return Task.CompletedTask;
        });
        return next();
    }
}

/// <summary>Console:* configuration.</summary>
public sealed record ConsoleOptions(Uri ApiBaseUrl, double SessionHours, string? DataProtectionKeysPath)
{
    public static ConsoleOptions From(IConfiguration c)
    {
        var api = new Uri(c["Console:ApiBaseUrl"] is { Length: > 0 } a ? a : "http://127.0.0.1:5080");
        return new ConsoleOptions(api, c.GetValue("Console:SessionHours", 8.0), c["Console:DataProtectionKeysPath"]);
    }
}
