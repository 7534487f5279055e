using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Automations.Core.Security;
using Automations.Persistence.Control;
using Automations.Testing;

namespace Automations.Security.Tests;

/// <summary>Who calls: the seven principals an outside security test plays.</summary>
public enum Principal { Admin, Member, OtherTeamAdmin, EventsOnlyKey, AgentKey, NoKey, GarbageKey, RevokedKey }

/// <summary>
/// The three HTTP services a caller outside can reach (Api, Ingestion, the LaunchEnqueuer's agent API), started from
/// their own Program.Build on one migrated database and vhost, and a key for each principal.
/// acme: admin alice, member bob, a revoked key of alice's, an events:write key and a queues:agent key.
/// globex: admin carol (another team's admin).
/// </summary>
public class SecurityFixture : TestEnvironment
{
    public ServiceHost Api { get; private set; } = null!;
    public ServiceHost Ingestion { get; private set; } = null!;
    public ServiceHost Launch { get; private set; } = null!;
    public CapturedLogs Logs { get; } = new();
    public Guid AcmeId { get; private set; }
    private readonly Dictionary<Principal, string?> _keys = new() { [Principal.NoKey] = null, [Principal.GarbageKey] = "ak_not-a-key" };

    public string? KeyOf(Principal p) => _keys[p];

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var acme = await Bootstrap.CreateEntityWithAdminAsync(DataSource, "acme", "alice");
        AcmeId = acme.EntityId;
        _keys[Principal.Admin] = acme.ApiKey;
        _keys[Principal.EventsOnlyKey] = await Bootstrap.CreateServiceKeyAsync(DataSource, acme.EntityId, "producer", [ApiKeys.Scopes.EventsWrite]);
        _keys[Principal.AgentKey] = await Bootstrap.CreateServiceKeyAsync(DataSource, acme.EntityId, "agent", [ApiKeys.Scopes.QueuesAgent]);
        _keys[Principal.OtherTeamAdmin] = (await Bootstrap.CreateEntityWithAdminAsync(DataSource, "globex", "carol")).ApiKey;

        var config = ServiceConfiguration();
        Api = await ServiceHost.StartAsync(args =>
        {
            var app = Automations.Api.Program.Build(args);
            ((Microsoft.Extensions.Logging.ILoggerFactory)app.Services.GetService(typeof(Microsoft.Extensions.Logging.ILoggerFactory))!).AddProvider(Logs);
            return app;
        }, config);
        Ingestion = await ServiceHost.StartAsync(Automations.Ingestion.Program.Build, ServiceConfiguration());
        Launch = await ServiceHost.StartAsync(Automations.LaunchEnqueuer.Program.Build, ServiceConfiguration());

        Ensure(await SendAsync(Api.Client, HttpMethod.Post, "/v1/entities/acme/members", new { user = "bob", role = "member" }, KeyOf(Principal.Admin)), HttpStatusCode.Created, HttpStatusCode.OK);
        _keys[Principal.Member] = (await CreateKeyAsync(new { name = "bob's key", scopes = new[] { "api" }, user = "bob" })).GetProperty("key").GetString()!;
        var revoked = await CreateKeyAsync(new { name = "old key", scopes = new[] { "api", "events:write", "queues:agent" }, user = "alice" });
        _keys[Principal.RevokedKey] = revoked.GetProperty("key").GetString()!;
        Ensure(await SendAsync(Api.Client, HttpMethod.Delete, $"/v1/entities/acme/keys/{revoked.GetProperty("id").GetGuid()}", null, KeyOf(Principal.Admin)), HttpStatusCode.OK, HttpStatusCode.NoContent);
    }

    private static void Ensure(HttpResponseMessage response, params HttpStatusCode[] expected)
    {
        using (response)
            if (!expected.Contains(response.StatusCode)) throw new InvalidOperationException($"fixture setup: {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri} answered {(int)response.StatusCode}");
    }

    private async Task<JsonElement> CreateKeyAsync(object body)
    {
        using var response = await SendAsync(Api.Client, HttpMethod.Post, "/v1/entities/acme/keys", body, KeyOf(Principal.Admin));
        if (response.StatusCode != HttpStatusCode.Created) throw new InvalidOperationException($"creating a key answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public override async Task DisposeAsync()
    {
        foreach (var host in new[] { Launch, Ingestion, Api })
            if (host is not null) await host.DisposeAsync();
        await base.DisposeAsync();
    }

    /// <summary>Sends a request; a string body is sent as is (raw JSON or not), bytes as they are, anything else as JSON.</summary>
    public static async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string path, object? body, string? key, string contentType = "application/json")
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is string raw) request.Content = new StringContent(raw, Encoding.UTF8, contentType);
        else if (body is byte[] bytes) { request.Content = new ByteArrayContent(bytes); request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType); }
        else if (body is not null) request.Content = JsonContent.Create(body);
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await client.SendAsync(request);
    }
}
