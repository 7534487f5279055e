using System.Net.Http.Headers;
using System.Net.Http.Json;
using Automations.Core.Security;
using Automations.Persistence.Control;
using Automations.Testing;

namespace Automations.Ingestion.Tests;

/// <summary>A migrated database and vhost, an entity "acme" with keys, and Ingestion listening on 127.0.0.1.</summary>
public class IngestionFixture : TestEnvironment
{
    public ServiceHost Ingestion { get; private set; } = null!;
    public string AdminKey { get; private set; } = "";
    public string ProducerKey { get; private set; } = "";
    public string AgentOnlyKey { get; private set; } = "";
    public string OtherEntityKey { get; private set; } = "";

    public override async Task InitializeAsync()
    {
        await base.InitializeAsync();
        var acme = await Bootstrap.CreateEntityWithAdminAsync(DataSource, "acme", "admin");
        AdminKey = acme.ApiKey;
        ProducerKey = await Bootstrap.CreateServiceKeyAsync(DataSource, acme.EntityId, "producer", [ApiKeys.Scopes.EventsWrite]);
        AgentOnlyKey = await Bootstrap.CreateServiceKeyAsync(DataSource, acme.EntityId, "agent", [ApiKeys.Scopes.QueuesAgent]);
        OtherEntityKey = (await Bootstrap.CreateEntityWithAdminAsync(DataSource, "globex", "boss")).ApiKey;
        Ingestion = await ServiceHost.StartAsync(Program.Build, ServiceConfiguration());
    }

    public override async Task DisposeAsync()
    {
        if (Ingestion is not null) await Ingestion.DisposeAsync();
        await base.DisposeAsync();
    }

    public Task<HttpResponseMessage> PostEventAsync(object body, string? key) => PostEventAsync(Ingestion.Client, body, key);

    public static async Task<HttpResponseMessage> PostEventAsync(HttpClient client, object body, string? key)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events") { Content = JsonContent.Create(body) };
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return await client.SendAsync(request);
    }

    public static object Event(string eventId, string entity = "acme", string type = "CREATE_ARTIFACT", string? alias = null) => new
    {
        eventId,
        eventType = type,
        entity,
        project = "mnist",
        collection = "eval-set",
        versionId = "QXJ0aWZhY3Q6NTE3ODg5ODg3",
        versionIndex = 3,
        alias,
        author = "jane",
        occurredAt = "2026-11-27T22:41:00Z",
        metadata = new { accuracy = 0.93 },
    };
}
