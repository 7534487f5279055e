using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Security;
using Automations.Persistence.Control;
using Automations.Testing;
using Dapper;
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
        await using var received = await PublishedEvents.StartAsync(fx.RabbitMqConnectionString);
        await using var commands = await PublishedCommands.StartAsync(fx.RabbitMqConnectionString);

        var eventId = "e2e-" + Guid.NewGuid();
        var body = new
        {
            eventId, eventType = "ADD_ARTIFACT_ALIAS", entity = "acme", project, collection = "model", versionId = "QXJ0", versionIndex = 4,
            alias = "production", author = "jane", occurredAt = "2026-11-27T22:41:00Z",
        };
        var answers = new List<JsonElement>();
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events") { Content = JsonContent.Create(body) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", producerKey);
            using var response = await ingestion.Client.SendAsync(request);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            answers.Add(await response.Content.ReadFromJsonAsync<JsonElement>());
        }
        // The second is recognised as the first: same stored event, marked a duplicate.
        Assert.Equal([false, true], answers.Select(a => a.GetProperty("duplicate").GetBoolean()));
        var storedId = answers[0].GetProperty("id").GetGuid();
        Assert.Equal(storedId, answers[1].GetProperty("id").GetGuid());

        var command = (await commands.WaitForCommandsAsync(c => c.Project == project))[0].Command;
        Assert.Equal(storedId, command.EventId);
        Assert.Equal($$"""{"text":"acme/{{project}}/model:production by jane"}""", command.Payload);

        // Everything either service wrote has been published and has reached the probes: one event, one run, one command.
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await fx.DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<long>("select (select count(*) from ingestion.outbox) + (select count(*) from rules.outbox)") == 0;
        }, "the ingestion and rules outboxes are drained");
        await received.CatchUpAsync();
        await commands.CatchUpAsync();
        await using (var c = await fx.DataSource.OpenConnectionAsync())
        {
            Assert.Equal(1, await c.ExecuteScalarAsync<int>("select count(*) from ingestion.events where entity = 'acme' and event_id = @eventId", new { eventId }));
            Assert.Equal(1, await c.ExecuteScalarAsync<int>("select count(*) from rules.runs where project = @project", new { project }));
        }
        Assert.Single(received.Events(), e => e.Event.ProducerEventId == eventId);
        Assert.Single(commands.Commands(), c => c.Command.Project == project);
        var run = Assert.Single(await fx.RunsOfEventAsync(storedId));
        Assert.Equal((command.RunId, command.CommandId, "Pending"), (run.Id, run.CommandId, run.Status));
    }
}
