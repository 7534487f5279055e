using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Automations.Persistence.Control;
using Automations.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Automations.Console.Tests;

/// <summary>
/// The real Api and WebhookSender on a migrated database and vhost, a local webhook receiver, and headless Chromium
/// opening the front end a subclass starts (<see cref="TeamSettingsFixture"/>: the console). acme: admin alice
/// (AdminKey), member bob (MemberKey). globex: admin carol (GlobexKey).
/// </summary>
public abstract class ConsoleFixture : TestEnvironment
{
    public ServiceHost Api { get; private set; } = null!;
    public ServiceHost Sender { get; private set; } = null!;
    public Receiver Receiver { get; private set; } = null!;
    public Browser Browser { get; private set; } = null!;
    public string AdminKey { get; private set; } = "";
    /// <summary>Every log line of the Api and the sender, at Debug.</summary>
    public CapturedLogs Logs { get; } = new();
    public string MemberKey { get; private set; } = "";
    public string GlobexKey { get; private set; } = "";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        AdminKey = (await Bootstrap.CreateEntityWithAdminAsync(DataSource, "acme", "alice")).ApiKey;
        GlobexKey = (await Bootstrap.CreateEntityWithAdminAsync(DataSource, "globex", "carol")).ApiKey;
        var config = ServiceConfiguration();
        config["Logging:LogLevel:Default"] = "Debug";
        Api = await ServiceHost.StartAsync(args =>
        {
            var app = Automations.Api.Program.Build(args);
            app.Services.GetRequiredService<ILoggerFactory>().AddProvider(Logs);
            return app;
        }, config);
        Sender = await ServiceHost.StartAsync(args =>
        {
            var app = Automations.WebhookSender.Program.Build(args);
            app.Services.GetRequiredService<ILoggerFactory>().AddProvider(Logs);
            return app;
        }, config);
        // Every path answers 201 with a recognisable header and body, which the webhook test page must show.
        Receiver = await Receiver.StartAsync(async (ctx, _) =>
        {
            ctx.Response.StatusCode = 201;
            ctx.Response.Headers["X-Receiver"] = "console-test";
            await ctx.Response.WriteAsync("dispatched by the receiver");
        });

        (await CallAsync(HttpMethod.Post, "/v1/entities/acme/members", new { user = "bob", role = "member" })).EnsureSuccessStatusCode();
        using var key = await CallAsync(HttpMethod.Post, "/v1/entities/acme/keys", new { name = "bob's key", scopes = new[] { "api" }, user = "bob" });
        Assert.Equal(HttpStatusCode.Created, key.StatusCode);
        MemberKey = (await key.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString()!;
        Browser = Browser.Start(await StartFrontEndAsync(config));
    }

    /// <summary>Starts the front end the browser opens and answers its address.</summary>
    protected abstract Task<Uri> StartFrontEndAsync(Dictionary<string, string?> config);

    public override async Task DisposeAsync()
    {
        Browser?.Dispose();
        if (Sender is not null) await Sender.DisposeAsync();
        if (Api is not null) await Api.DisposeAsync();
        if (Receiver is not null) await Receiver.DisposeAsync();
        await base.DisposeAsync();
    }

    /// <summary>The REST API directly (to arrange data a test is not about).</summary>
    public async Task<HttpResponseMessage> CallAsync(HttpMethod method, string path, object? body = null, string? key = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = JsonContent.Create(body);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key ?? AdminKey);
        return await Api.Client.SendAsync(request);
    }

    public async Task<JsonElement> CreateAsync(string path, object body, string? key = null)
    {
        using var response = await CallAsync(HttpMethod.Post, path, body, key);
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.Created, $"POST {path}: {(int)response.StatusCode} {text}");
        return JsonDocument.Parse(text).RootElement.Clone();
    }
}
