using Automations.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenQA.Selenium;
using OpenQA.Selenium.Support.UI;

namespace Automations.Console.Tests;

/// <summary>
/// <see cref="ConsoleFixture"/> (the real Api and WebhookSender, a receiver, acme with admin alice and member bob, globex)
/// plus the console of its own (services/Automations.Console) on a free port, pointed at the Api; the browser opens it.
/// </summary>
public class TeamSettingsFixture : ConsoleFixture
{
    public ServiceHost Console { get; private set; } = null!;

    /// <summary>The console's Data Protection keys, on disk so that a second replica (a test starts one) reads its cookies.</summary>
    public string KeysPath { get; } = Directory.CreateTempSubdirectory("console-keys-").FullName;

    protected override async Task<Uri> StartFrontEndAsync(Dictionary<string, string?> config)
    {
        Console = await StartConsoleAsync();
        return Console.BaseAddress;
    }

    /// <summary>A console replica pointed at the Api, sharing the Data Protection keys (as Console:DataProtectionKeysPath tells replicas to).</summary>
    public Task<ServiceHost> StartConsoleAsync() => ServiceHost.StartAsync(args =>
    {
        var app = Automations.Console.Program.Build(args);
        app.Services.GetRequiredService<ILoggerFactory>().AddProvider(Logs);
        return app;
    }, new Dictionary<string, string?>
    {
        ["Console:ApiBaseUrl"] = Api.BaseAddress.ToString(),
        ["Console:DataProtectionKeysPath"] = KeysPath,
        ["Logging:LogLevel:Default"] = "Debug",
    });

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Console is not null) await Console.DisposeAsync();
        try { Directory.Delete(KeysPath, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }

    /// <summary>A plain HTTP client to the console carrying only the given cookies (no redirects followed), to see real status codes.</summary>
    public HttpClient ConsoleClient(string? cookies)
    {
        var handler = new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false };
        var client = new HttpClient(handler) { BaseAddress = Console.BaseAddress };
        if (cookies is not null) client.DefaultRequestHeaders.Add("Cookie", cookies);
        return client;
    }
}

/// <summary>Browser steps for the console of its own: its sign-in, and form posts that may be enhanced (fetch) or plain.</summary>
public static class TeamSettingsSteps
{
    public static void SignInToConsole(this Browser b, string key)
    {
        b.Driver.Manage().Cookies.DeleteAllCookies();
        b.Go("/sign-in");
        b.Fill("#key", key);
        b.Submit(b.Find("#sign-in button[type=submit]"));
    }

    /// <summary>
    /// Activates a submit button (by click, or by <paramref name="key"/> when given) and waits for the page after the
    /// redirect, whether the framework's script posted the form itself (enhanced) or the browser did (a new document):
    /// every rendered page carries fresh antiforgery tokens, so the first token's value changes once the next page is in.
    /// </summary>
    public static void Submit(this Browser b, IWebElement button, string? key = null)
    {
        const string token = "var e = document.querySelector('input[name=__RequestVerificationToken]'); return e ? e.getAttribute('value') : '';";
        var before = b.Driver.ExecuteScript(token) as string;
        if (key is null) button.Click(); else button.SendKeys(key);
        new WebDriverWait(b.Driver, TimeSpan.FromSeconds(60)).Until(d =>
        {
            try
            {
                return b.Driver.ExecuteScript("return document.readyState") as string == "complete" && b.Driver.ExecuteScript(token) as string != before;
            }
            catch (WebDriverException) { return false; }
        });
    }

    public static void Submit(this Browser b, string css) => b.Submit(b.Find(css));

    /// <summary>Follows a link (the framework's script may fetch the page and patch it in) and waits for the page at <paramref name="path"/>.</summary>
    public static void Follow(this Browser b, IWebElement link, string path, string? key = null)
    {
        b.Submit(link, key);
        new WebDriverWait(b.Driver, TimeSpan.FromSeconds(30)).Until(_ => b.Path0 == path);
    }

    /// <summary>Every cookie of the browser, as a Cookie header (the session cookie is HttpOnly: only the driver sees it).</summary>
    public static string Cookies(this Browser b) =>
        string.Join("; ", b.Driver.Manage().Cookies.AllCookies.Select(c => $"{c.Name}={c.Value}"));
}
