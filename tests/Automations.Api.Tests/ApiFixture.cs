using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Automations.Core.Security;
using Automations.Persistence.Control;
using Automations.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Automations.Api.Tests;

/// <summary>
/// A migrated database and vhost with two entities, and the Api on 127.0.0.1 with its logs captured.
/// acme: admin alice (AdminKey), member bob (MemberKey), a revoked key of alice, a producer key and an agent key.
/// globex: admin carol (OtherEntityKey).
/// </summary>
public class ApiFixture : TestEnvironment
{
    public ServiceHost Api { get; private set; } = null!;
    public CapturedLogs Logs { get; } = new();
    public string AdminKey { get; private set; } = "";
    public string MemberKey { get; private set; } = "";
    public string RevokedKey { get; private set; } = "";
    public string ProducerKey { get; private set; } = "";
    public string AgentKey { get; private set; } = "";
    public string OtherEntityKey { get; private set; } = "";
    public Guid AcmeId { get; private set; }

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var acme = await Bootstrap.CreateEntityWithAdminAsync(DataSource, "acme", "alice");
        AcmeId = acme.EntityId;
        AdminKey = acme.ApiKey;
        ProducerKey = await Bootstrap.CreateServiceKeyAsync(DataSource, acme.EntityId, "producer", [ApiKeys.Scopes.EventsWrite]);
        AgentKey = await Bootstrap.CreateServiceKeyAsync(DataSource, acme.EntityId, "agent", [ApiKeys.Scopes.QueuesAgent]);
        OtherEntityKey = (await Bootstrap.CreateEntityWithAdminAsync(DataSource, "globex", "carol")).ApiKey;
        Api = await StartApiAsync(ServiceConfiguration());

        (await SendAsync(HttpMethod.Post, "/v1/entities/acme/members", new { user = "bob", role = "member" }, AdminKey)).EnsureSuccessStatusCode();
        MemberKey = (await CreateKeyAsync(new { name = "bob's key", scopes = new[] { "api" }, user = "bob" })).GetProperty("key").GetString()!;
        var revoked = await CreateKeyAsync(new { name = "old key", scopes = new[] { "api" }, user = "alice" });
        RevokedKey = revoked.GetProperty("key").GetString()!;
        (await SendAsync(HttpMethod.Delete, $"/v1/entities/acme/keys/{revoked.GetProperty("id").GetGuid()}", null, AdminKey)).EnsureSuccessStatusCode();
    }

    public Dictionary<string, string?> ApiConfiguration() => ServiceConfiguration();

    public async Task<ServiceHost> StartApiAsync(IDictionary<string, string?> configuration)
    {
        configuration["Logging:LogLevel:Default"] = "Debug";
        configuration["Logging:LogLevel:Microsoft.AspNetCore"] = "Debug";
        return await ServiceHost.StartAsync(args =>
        {
            var app = Program.Build(args);
            app.Services.GetRequiredService<ILoggerFactory>().AddProvider(Logs);
            return app;
        }, configuration);
    }

    private async Task<JsonElement> CreateKeyAsync(object body)
    {
        using var response = await SendAsync(HttpMethod.Post, "/v1/entities/acme/keys", body, AdminKey);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public override async Task DisposeAsync()
    {
        if (Api is not null) await Api.DisposeAsync();
        await base.DisposeAsync();
    }

    public Task<HttpResponseMessage> SendAsync(HttpMethod method, string path, object? body, string? key) => SendAsync(Api.Client, method, path, body, key);

    public static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, object? body, string? key)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is string raw) request.Content = new StringContent(raw, Encoding.UTF8, "application/json");
        else if (body is not null) request.Content = JsonContent.Create(body);
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await client.SendAsync(request);
    }

    /// <summary>Sends and returns status and parsed body (null when empty).</summary>
    public async Task<(HttpStatusCode Status, JsonElement Body, string Text)> CallAsync(HttpMethod method, string path, object? body = null, string? key = null)
    {
        using var response = await SendAsync(method, path, body, key ?? AdminKey);
        var text = await response.Content.ReadAsStringAsync();
        var json = text.Length > 0 && (text[0] == '{' || text[0] == '[') ? JsonDocument.Parse(text).RootElement.Clone() : default;
        return (response.StatusCode, json, text);
    }

    public Task<(HttpStatusCode Status, JsonElement Body, string Text)> GetAsync(string path, string? key = null) => CallAsync(HttpMethod.Get, path, null, key);
    public Task<(HttpStatusCode Status, JsonElement Body, string Text)> PostAsync(string path, object? body, string? key = null) => CallAsync(HttpMethod.Post, path, body, key);
    public Task<(HttpStatusCode Status, JsonElement Body, string Text)> PutAsync(string path, object? body, string? key = null) => CallAsync(HttpMethod.Put, path, body, key);
    public Task<(HttpStatusCode Status, JsonElement Body, string Text)> DeleteAsync(string path, string? key = null) => CallAsync(HttpMethod.Delete, path, null, key);

    public static string[] ErrorsOf(JsonElement problem, string field) =>
        problem.TryGetProperty("errors", out var errors) && errors.TryGetProperty(field, out var list)
            ? list.EnumerateArray().Select(e => e.GetString()!).ToArray()
            : [];
}
