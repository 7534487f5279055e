using System.Net;
using OpenQA.Selenium;
using OpenQA.Selenium.Interactions;

namespace Automations.Console.Tests;

/// <summary>
/// The console of its own is usable without a mouse and announces what it shows: every input labelled, each Team
/// settings flow done with Tab and Enter alone, the focused element visibly outlined; its favicon and one stylesheet served.
/// </summary>
[Collection("browser")]
public class Using_the_console_with_the_keyboard(TeamSettingsFixture fx) : IClassFixture<TeamSettingsFixture>
{
    private Browser B => fx.Browser;

    private static string Unique(string prefix) => prefix + Guid.NewGuid().ToString("N")[..6].ToUpperInvariant();

    private const string ActiveMatches = "return document.activeElement && document.activeElement.matches(arguments[0]);";

    /// <summary>Presses Tab until the element matching <paramref name="css"/> has the focus, then checks its focus is visible.</summary>
    private IWebElement TabTo(string css)
    {
        for (var i = 0; i < 80; i++)
        {
            if (B.Driver.ExecuteScript(ActiveMatches, css) is true)
            {
                AssertFocusVisible();
                return B.Driver.SwitchTo().ActiveElement();
            }
            new Actions(B.Driver).SendKeys(Keys.Tab).Perform();
        }
        throw new InvalidOperationException($"Tab never reached {css}");
    }

    /// <summary>The focused element has an outline of at least 2 px that is not "none" (the stylesheet's :focus-visible ring).</summary>
    private void AssertFocusVisible()
    {
        var style = (IReadOnlyDictionary<string, object>)B.Driver.ExecuteScript(
            "var s = getComputedStyle(document.activeElement); return { style: s.outlineStyle, width: s.outlineWidth, visible: document.activeElement.matches(':focus-visible') };")!;
        Assert.NotEqual("none", style["style"]);
        Assert.True(double.Parse(((string)style["width"]!).Replace("px", "", StringComparison.Ordinal), System.Globalization.CultureInfo.InvariantCulture) >= 2, $"outline {style["width"]}");
        Assert.Equal(true, style["visible"]);
    }

    private void Type(string text) => new Actions(B.Driver).SendKeys(text).Perform();

    /// <summary>Presses Enter on the focused element and waits for the page after the redirect.</summary>
    private void Enter() => B.Submit(B.Driver.SwitchTo().ActiveElement(), Keys.Enter);

    private void StartAtTheTop() => B.Driver.ExecuteScript("document.activeElement && document.activeElement.blur(); window.scrollTo(0, 0);");

    [Fact]
    public void Should_do_the_secrets_flows_with_the_keyboard_alone()
    {
        B.Driver.Manage().Cookies.DeleteAllCookies();
        B.Go("/sign-in");
        StartAtTheTop();
        TabTo("#key");
        Type(fx.AdminKey);
        Enter();
        Assert.Equal("/acme/settings/secrets", B.Path0);

        var name = Unique("KEYBOARD_");
        StartAtTheTop();
        TabTo("#secret-name");
        Type(name);
        TabTo("#secret-value");
        Type("typed-value-1");
        B.Screenshot("keyboard-secret-focus");
        Enter();
        Assert.Equal($"Secret {name} created.", B.Text($"#secret-{name}-message"));

        StartAtTheTop();
        TabTo($"a[aria-label='Change the value of {name}']");
        B.Follow(B.Driver.SwitchTo().ActiveElement(), $"/acme/settings/secrets/{name}", Keys.Enter);
        StartAtTheTop();
        TabTo("#secret-new-value");
        Type("typed-value-2");
        Enter();
        Assert.Equal($"The value of {name} was changed.", B.Text($"#secret-{name}-message"));

        StartAtTheTop();
        TabTo($"a[aria-label='Delete secret {name}']");
        B.Follow(B.Driver.SwitchTo().ActiveElement(), "/acme/settings/secrets", Keys.Enter);
        StartAtTheTop();
        TabTo("#confirm-delete-button");
        Enter();
        Assert.Equal($"Secret {name} deleted.", B.Text("#secrets-message"));
        Assert.Empty(B.FindAll($"#secret-{name}"));
    }

    [Fact]
    public async Task Should_do_the_webhook_and_integration_flows_with_the_keyboard_alone()
    {
        var token = Unique("KB_TOKEN_");
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name = token, value = "kb-token-value" });
        B.SignInToConsole(fx.AdminKey);
        B.Go("/acme/settings/webhooks");

        var hook = "keyboard " + Guid.NewGuid().ToString("N")[..6];
        StartAtTheTop();
        TabTo("#webhook-name");
        Type(hook);
        TabTo("#webhook-url");
        Type(fx.Receiver.Url("/keyboard"));
        TabTo("#webhook-token");
        // A closed select takes the first letters of an option.
        Type(token);
        Assert.Equal(token, B.Find("#webhook-token").GetAttribute("value"));
        TabTo("#new-webhook button[type=submit]");
        Enter();
        var row = B.FindAll("#webhooks tbody tr").Single(r => r.Text.Contains(hook, StringComparison.Ordinal));
        Assert.Contains(token, row.Text);
        var id = row.GetAttribute("id")!["webhook-".Length..];

        StartAtTheTop();
        TabTo($"a[aria-label='Test webhook {hook}']");
        B.Follow(B.Driver.SwitchTo().ActiveElement(), $"/acme/settings/webhooks/{id}/test", Keys.Enter);
        StartAtTheTop();
        TabTo("#test-webhook button[type=submit]");
        Enter();
        Assert.Equal("201", B.Text("#test-status"));

        B.Go("/acme/settings/integrations");
        var integration = "kb alerts " + Guid.NewGuid().ToString("N")[..6];
        StartAtTheTop();
        TabTo("#integration-name");
        Type(integration);
        TabTo("#integration-url");
        Type("https://hooks.slack.com/services/T1/B1/keyboardsecret99");
        Enter();
        Assert.Contains(integration, B.Text("#integrations"));
        StartAtTheTop();
        TabTo($"a[aria-label='Delete integration {integration}']");
        B.Follow(B.Driver.SwitchTo().ActiveElement(), "/acme/settings/integrations", Keys.Enter);
        StartAtTheTop();
        TabTo("#confirm-delete-button");
        Enter();
        Assert.Equal($"Integration {integration} deleted.", B.Text("#integrations-message"));
    }

    [Fact]
    public async Task Should_label_every_input_on_every_settings_page()
    {
        var secret = Unique("LABELLED_");
        await fx.CreateAsync("/v1/entities/acme/secrets", new { name = secret, value = "v" });
        var id = (await fx.CreateAsync("/v1/entities/acme/webhooks", new { name = "labelled " + Guid.NewGuid().ToString("N")[..6], url = fx.Receiver.Url("/labelled") }))
            .GetProperty("id").GetString();
        B.Driver.Manage().Cookies.DeleteAllCookies();
        var pages = new[]
        {
            "/sign-in", "/acme/settings/secrets", $"/acme/settings/secrets/{secret}", "/acme/settings/webhooks", $"/acme/settings/webhooks/{id}",
            $"/acme/settings/webhooks/{id}/test", "/acme/settings/integrations", "/acme/settings/members",
            "/acme/settings/keys",
        };
        foreach (var page in pages)
        {
            if (page != "/sign-in" && B.Path0 == "/sign-in" && B.FindAll("#key").Count > 0 && B.Cookie("automations.console.session") is null)
                B.SignInToConsole(fx.AdminKey);
            B.Go(page);
            Assert.Equal(page, B.Path0);
            var inputs = (IReadOnlyCollection<object>)B.Driver.ExecuteScript(
                "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')].map(e => e.id);")!;
            Assert.NotEmpty(inputs);
            var unlabelled = (IReadOnlyCollection<object>)B.Driver.ExecuteScript(
                "return [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]" +
                ".filter(e => !(e.labels && e.labels.length > 0 && e.labels[0].textContent.trim().length > 0) && !e.getAttribute('aria-label'))" +
                ".map(e => e.outerHTML);")!;
            Assert.True(unlabelled.Count == 0, $"{page}: {string.Join(", ", unlabelled)}");
            var described = (IReadOnlyCollection<object>)B.Driver.ExecuteScript(
                "return [...document.querySelectorAll('[aria-describedby]')].flatMap(e => e.getAttribute('aria-describedby').split(' ')).filter(id => !document.getElementById(id));")!;
            Assert.True(described.Count == 0, $"{page}: aria-describedby names missing ids {string.Join(", ", described)}");
        }
    }

    [Fact]
    public async Task Should_serve_its_favicon_and_one_stylesheet()
    {
        B.SignInToConsole(fx.AdminKey);
        var icon = B.Find("link[rel=icon]").GetAttribute("href")!;
        Assert.Single(B.FindAll("link[rel=stylesheet]"));
        var css = B.Find("link[rel=stylesheet]").GetAttribute("href")!;
        var script = B.Find("script[src]").GetAttribute("src")!;
        using var client = fx.ConsoleClient(null);
        foreach (var (path, type) in new[] { (icon, "image/svg+xml"), ("/favicon.svg", "image/svg+xml"), (css, "text/css"), (script, "text/javascript") })
        {
            using var answer = await client.GetAsync(new Uri(path, UriKind.RelativeOrAbsolute).IsAbsoluteUri ? new Uri(path).PathAndQuery : path);
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
            Assert.Equal(type, answer.Content.Headers.ContentType?.MediaType);
        }
        // The stylesheet applied: the page's own font, not the browser's default serif.
        Assert.Contains("system-ui", (string)B.Driver.ExecuteScript("return getComputedStyle(document.body).fontFamily;")!);
    }
}
