using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Automations.Contracts;
using Automations.Core.Security;
using Automations.Persistence.Control;
using Automations.Testing;
using static Automations.Rules.Tests.RulesFixture;

namespace Automations.Rules.Tests;

public class Sending_an_event_through_ingestion(RulesFixture fx) : IClassFixture<RulesFixture>
{
    [Fact]
    public async Task Should_turn_a_producer_event_into_one_command_even_when_the_producer_sends_it_twice()
    {
        await using var ingestion = await ServiceHost.StartAsync(Automations.Ingestion.Program.Build, fx.ServiceConfiguration());
        var producerKey = await Bootstrap.CreateServiceKeyAsync(fx.DataSource, fx.AcmeId, "producer", [ApiKeys.Scopes.EventsWrite]);
        var project = "p-" + Guid.NewGuid().ToString("N")[..10];
        await fx.CreateWebhookAutomationAsync(project, new AutomationSpec("prod", EventTypes.AddArtifactAlias, Collection: null, AliasRegex: "production",
            Payload: """{"text":"${artifact_version_string} by ${event_author}"}"""));
        await using var probe = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(SendWebhook));

        var eventId = "e2e-" + Guid.NewGuid();
        var body = new
        {
            eventId, eventType = "ADD_ARTIFACT_ALIAS", entity = "acme", project, collection = "model", versionId = "QXJ0", versionIndex = 4,
            alias = "production", author = "jane", occurredAt = "2026-11-27T22:41:00Z",
        };
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events") { Content = JsonContent.Create(body) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", producerKey);
            using var response = await ingestion.Client.SendAsync(request);
            Assert.True(response.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.OK, $"{response.StatusCode}");
        }

        var command = (await probe.WaitForAsync(d => d.As<SendWebhook>().Project == project)).Single().As<SendWebhook>();
        Assert.Equal($$"""{"text":"acme/{{project}}/model:production by jane"}""", command.Payload);
        var run = (await fx.RunsOfEventAsync(command.EventId)).Single();
        Assert.Equal((command.RunId, command.CommandId, "Pending"), (run.Id, run.CommandId, run.Status));
    }
}
