using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Automations.Contracts;
using Automations.Testing;
using Dapper;

namespace Automations.Ingestion.Tests;

public class Sending_events_over_http(IngestionFixture fx) : IClassFixture<IngestionFixture>
{
    [Fact]
    public async Task Should_store_the_event_and_publish_ArtifactEventReceived()
    {
        await using var probe = await PublishedEvents.StartAsync(fx.RabbitMqConnectionString);
        var eventId = Guid.NewGuid().ToString();
        using var response = await fx.PostEventAsync(IngestionFixture.Event(eventId, type: "ADD_ARTIFACT_ALIAS", alias: "production"), fx.ProducerKey);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = body.GetProperty("id").GetGuid();
        Assert.Equal(eventId, body.GetProperty("eventId").GetString());
        Assert.Equal(32, body.GetProperty("traceId").GetString()!.Length);

        var published = (await probe.WaitForEventsAsync(e => e.EventId == id)).Single();
        var message = published.Event;
        Assert.Equal(eventId, message.ProducerEventId);
        Assert.Equal(("ADD_ARTIFACT_ALIAS", "acme", "mnist", "eval-set", "production"), (message.EventType, message.Entity, message.Project, message.Collection, message.Alias));
        Assert.Equal(3, message.VersionIndex);
        Assert.Equal("""{"accuracy":0.93}""", message.MetadataJson);
        if (!published.InBatch) Assert.Equal(id, published.MessageId);

        await using var connection = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("select count(*) from ingestion.events where id = @id and source = 'http'", new { id }));
    }

    [Fact]
    public async Task Should_have_one_effect_for_a_duplicate_eventId()
    {
        await using var probe = await PublishedEvents.StartAsync(fx.RabbitMqConnectionString);
        var eventId = "dup-" + Guid.NewGuid();
        using var first = await fx.PostEventAsync(IngestionFixture.Event(eventId), fx.ProducerKey);
        using var second = await fx.PostEventAsync(IngestionFixture.Event(eventId), fx.ProducerKey);
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        var a = await first.Content.ReadFromJsonAsync<JsonElement>();
        var b = await second.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(a.GetProperty("id").GetGuid(), b.GetProperty("id").GetGuid());
        Assert.False(a.GetProperty("duplicate").GetBoolean());
        Assert.True(b.GetProperty("duplicate").GetBoolean());

        await probe.WaitForEventsAsync(e => e.ProducerEventId == eventId);
        // A marker event sent after the duplicate: once it arrives, a second copy would have arrived too (one relay, in order).
        var marker = "marker-" + Guid.NewGuid();
        (await fx.PostEventAsync(IngestionFixture.Event(marker), fx.ProducerKey)).Dispose();
        await probe.WaitForEventsAsync(e => e.ProducerEventId == marker);
        Assert.Single(probe.Events(), e => e.Event.ProducerEventId == eventId);

        await using var connection = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await connection.ExecuteScalarAsync<int>("select count(*) from ingestion.events where event_id = @eventId", new { eventId }));
    }

    [Fact]
    public async Task Should_answer_401_without_a_key_or_with_an_unknown_one()
    {
        using var none = await fx.PostEventAsync(IngestionFixture.Event("k1"), key: null);
        using var bad = await fx.PostEventAsync(IngestionFixture.Event("k2"), key: "ak_not-a-real-key");
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, bad.StatusCode);
        Assert.Equal("application/problem+json", none.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Should_answer_401_for_a_revoked_key()
    {
        var key = await Automations.Persistence.Control.Bootstrap.CreateServiceKeyAsync(fx.DataSource,
            await fx.DataSource.OpenConnection().ExecuteScalarAsync<Guid>("select id from control.entities where name = 'acme'"), "revoked", ["events:write"]);
        await using (var connection = await fx.DataSource.OpenConnectionAsync())
            await connection.ExecuteAsync("update control.api_keys set revoked_at = now() where key_hash = @h", new { h = Automations.Core.Security.ApiKeys.Hash(key) });
        using var response = await fx.PostEventAsync(IngestionFixture.Event("revoked-" + Guid.NewGuid()), key);
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Should_answer_403_for_another_entity_or_a_key_without_the_scope()
    {
        using var other = await fx.PostEventAsync(IngestionFixture.Event("x1"), fx.OtherEntityKey);
        using var noScope = await fx.PostEventAsync(IngestionFixture.Event("x2"), fx.AgentOnlyKey);
        Assert.Equal(HttpStatusCode.Forbidden, other.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, noScope.StatusCode);
        Assert.Equal("application/problem+json", other.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Should_answer_400_problem_json_naming_the_field()
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events")
        {
            Content = new StringContent("""{"eventId":"a","eventType":"ADD_ARTIFACT_ALIAS","entity":"acme","project":"mnist","collection":"c","occurredAt":"2026-11-27T22:41:00Z"}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fx.ProducerKey);
        using var response = await fx.Ingestion.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("required for ADD_ARTIFACT_ALIAS", problem.GetProperty("errors").GetProperty("alias")[0].GetString(), StringComparison.Ordinal);

        using var malformed = new HttpRequestMessage(HttpMethod.Post, "/v1/events") { Content = new StringContent("{oops", Encoding.UTF8, "application/json") };
        malformed.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fx.ProducerKey);
        using var r2 = await fx.Ingestion.Client.SendAsync(malformed);
        Assert.Equal(HttpStatusCode.BadRequest, r2.StatusCode);
        Assert.True((await r2.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("body", out _));
    }

    public static TheoryData<string, string, byte[]> Unstorable()
    {
        static byte[] Event(string id, string replace, string with) => Encoding.UTF8.GetBytes(
            $$$"""{"eventId":"{{{id}}}","eventType":"CREATE_ARTIFACT","entity":"acme","project":"mnist","collection":"eval-set","author":"jane","occurredAt":"2026-11-27T22:41:00Z","metadata":{"head":"h"}}"""
                .Replace(replace, with, StringComparison.Ordinal));
        var invalidUtf8 = Event("utf8-1", "\"jane\"", "\"ja@@ne\"");
        var at = invalidUtf8.AsSpan().IndexOf("@@"u8);
        invalidUtf8[at] = 0xFF;
        invalidUtf8[at + 1] = 0xFE;
        return new()
        {
            { "NUL in collection", "collection", Event("nul-1", "\"eval-set\"", "\"eval\\u0000set\"") },
            { "NUL in author", "author", Event("nul-2", "\"jane\"", "\"ja\\u0000ne\"") },
            { "NUL in metadata", "metadata.head", Event("nul-3", "\"h\"}", "\"\\u0000\"}") },
            { "NUL in a metadata key", "metadata", Event("nul-4", "\"head\"", "\"he\\u0000ad\"") },
            { "a lone surrogate in author", "author", Event("sur-1", "\"jane\"", "\"\\ud800\"") },
            { "invalid UTF-8 in author", "author", invalidUtf8 },
            { "a number beyond a double in metadata", "metadata.head", Event("num-1", "\"h\"}", "1e400}") },
            { "a collection name W&B would refuse", "collection", Event("name-1", "\"eval-set\"", "\"eval set\"") },
        };
    }

    [Theory]
    [MemberData(nameof(Unstorable))]
    public async Task Should_answer_400_naming_a_field_PostgreSQL_cannot_store(string @case, string field, byte[] body)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fx.ProducerKey);
        using var response = await fx.Ingestion.Client.SendAsync(request);
        Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{@case}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{@case}: {problem}");
        await using var connection = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(0, await connection.ExecuteScalarAsync<int>("select count(*) from ingestion.events where event_id = any(array['nul-1','nul-2','nul-3','nul-4','sur-1','utf8-1','num-1','name-1'])"));
    }

    [Fact]
    public async Task Should_answer_413_for_a_body_over_256_KiB()
    {
        var big = new string('x', 300 * 1024);
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events")
        {
            Content = new StringContent($$$"""{"eventId":"big","eventType":"CREATE_ARTIFACT","entity":"acme","project":"p","collection":"c","occurredAt":"2026-11-27T22:41:00Z","metadata":{"x":"{{{big}}}"}}""", Encoding.UTF8, "application/json"),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fx.ProducerKey);
        using var response = await fx.Ingestion.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
    }
}
