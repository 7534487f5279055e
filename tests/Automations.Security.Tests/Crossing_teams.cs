using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;

namespace Automations.Security.Tests;

/// <summary>
/// What the matrix cannot show with unknown ids: another team's key, on its own team's path or through the agent API
/// and Ingestion, neither sees nor changes this team's real resources.
/// </summary>
[Trait("Category", "Security")]
public class Crossing_teams(SecurityFixture fx) : IClassFixture<SecurityFixture>
{
    private string? Acme => fx.KeyOf(Principal.Admin);
    private string? Globex => fx.KeyOf(Principal.OtherTeamAdmin);

    [Theory]
    [InlineData("queues")]
    [InlineData("jobs")]
    [InlineData("webhooks")]
    public async Task Should_not_reach_a_resource_of_another_team_through_its_own_teams_path(string kind)
    {
        var id = await CreateAsync(kind);
        Assert.Equal(HttpStatusCode.OK, await StatusAsync(HttpMethod.Get, $"/v1/entities/acme/{kind}/{id}", Acme));

        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(HttpMethod.Get, $"/v1/entities/acme/{kind}/{id}", Globex));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(HttpMethod.Get, $"/v1/entities/globex/{kind}/{id}", Globex));
        Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(HttpMethod.Delete, $"/v1/entities/globex/{kind}/{id}", Globex));
        if (kind == "webhooks")
        {
            Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(HttpMethod.Get, $"/v1/entities/globex/webhooks/{id}/deliveries", Globex));
            Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(HttpMethod.Post, $"/v1/entities/globex/webhooks/{id}/test", Globex, "{}"));
        }
        if (kind == "queues")
            Assert.Equal(HttpStatusCode.NotFound, await StatusAsync(HttpMethod.Get, $"/v1/entities/globex/queues/{id}/items", Globex));

        Assert.Equal(HttpStatusCode.OK, await StatusAsync(HttpMethod.Get, $"/v1/entities/acme/{kind}/{id}", Acme));
    }

    [Fact]
    public async Task Should_not_let_another_teams_agent_claim_from_a_queue()
    {
        var queue = await CreateAsync("queues");
        using (var theirs = await SecurityFixture.SendAsync(fx.Launch.Client, HttpMethod.Post, $"/v1/agent/queues/{queue}/claim", null, Globex))
            Assert.Equal(HttpStatusCode.NotFound, theirs.StatusCode);
        using var ours = await SecurityFixture.SendAsync(fx.Launch.Client, HttpMethod.Post, $"/v1/agent/queues/{queue}/claim", null, fx.KeyOf(Principal.AgentKey));
        Assert.Equal(HttpStatusCode.NoContent, ours.StatusCode);
    }

    [Fact]
    public async Task Should_refuse_another_teams_producer_key_for_this_teams_events()
    {
        var eventId = Guid.NewGuid().ToString();
        var body = new { eventId, eventType = "CREATE_ARTIFACT", entity = "acme", project = "mnist", collection = "eval-set", occurredAt = DateTimeOffset.UtcNow };
        using var response = await SecurityFixture.SendAsync(fx.Ingestion.Client, HttpMethod.Post, "/v1/events", body, Globex);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await c.ExecuteScalarAsync<int>("select count(*) from ingestion.events where event_id = @eventId", new { eventId }));
    }

    private async Task<Guid> CreateAsync(string kind)
    {
        var name = kind + "-" + Guid.NewGuid().ToString("N")[..6];
        if (kind == "webhooks")
        {
            // Straight into the table: this test is about who sees it, not about the URL rules.
            var id = Guid.NewGuid();
            await using var c = await fx.DataSource.OpenConnectionAsync();
            await c.ExecuteAsync("insert into control.webhooks (id, entity_id, name, url) values (@id, @entityId, @name, 'https://hooks.example.com/x')",
                new { id, entityId = fx.AcmeId, name });
            return id;
        }
        using var response = await SecurityFixture.SendAsync(fx.Api.Client, HttpMethod.Post, $"/v1/entities/acme/{kind}", new { name }, Acme);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    private async Task<HttpStatusCode> StatusAsync(HttpMethod method, string path, string? key, string? body = null)
    {
        using var response = await SecurityFixture.SendAsync(fx.Api.Client, method, path, body, key);
        return response.StatusCode;
    }
}
