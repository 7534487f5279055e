using System.Net;
using Xunit.Abstractions;

namespace Automations.Console.Tests;

/// <summary>Pages are one small HTML document each: no external stylesheet, script, font or image to fetch. Sizes are printed.</summary>
[Collection("browser")]
public class Serving_light_pages(ConsoleFixture fx, ITestOutputHelper output) : IClassFixture<ConsoleFixture>
{
    [Fact]
    public async Task Should_serve_every_page_as_one_small_document()
    {
        fx.Browser.SignIn(fx.AdminKey);
        using var http = fx.CookieClient(fx.Browser.Cookie("automations.console"));
        foreach (var path in new[]
                 {
                     "/console/sign-in", "/console/acme/settings/secrets", "/console/acme/settings/webhooks", "/console/acme/projects",
                     "/console/acme/projects/mnist/automations", "/console/acme/projects/mnist/automations/new", "/console/acme/queues",
                 })
        {
            using var response = await http.GetAsync(path);
            var html = await response.Content.ReadAsStringAsync();
            output.WriteLine($"{path}: {(int)response.StatusCode}, {html.Length} bytes");
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.True(html.Length < 32 * 1024, $"{path} is {html.Length} bytes");
            Assert.DoesNotContain("<link", html, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("<script src", html, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("no-store", response.Headers.CacheControl?.ToString());
            Assert.Contains("frame-ancestors 'none'", string.Join(";", response.Headers.GetValues("Content-Security-Policy")));
        }
    }
}
