using System.Text;
using Automations.Contracts;
using Automations.Testing;
using Dapper;
using RabbitMQ.Client;

namespace Automations.Ingestion.Tests;

/// <summary>Producers in any language publish plain JSON to the topic exchange: no envelope, no content type, no message id.</summary>
public class Sending_raw_json_over_amqp(IngestionFixture fx) : IClassFixture<IngestionFixture>
{
    private Task PublishRawAsync(string routingKey, string body, IDictionary<string, object?>? headers = null) =>
        PublishRawAsync(routingKey, Encoding.UTF8.GetBytes(body), headers);

    private async Task PublishRawAsync(string routingKey, byte[] body, IDictionary<string, object?>? headers = null, string? messageId = null)
    {
        var factory = new ConnectionFactory { Uri = new Uri(fx.RabbitMqConnectionString) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await channel.ExchangeDeclareAsync(Exchanges.ArtifactEvents, ExchangeType.Topic, durable: true, autoDelete: false);
        var props = new BasicProperties { Persistent = true, Headers = headers, MessageId = messageId };
        await channel.BasicPublishAsync(Exchanges.ArtifactEvents, routingKey, mandatory: false, props, body);
    }

    [Fact]
    public async Task Should_turn_a_valid_message_into_ArtifactEventReceived_and_keep_its_trace()
    {
        await using var probe = await PublishedEvents.StartAsync(fx.RabbitMqConnectionString);
        var eventId = "py-" + Guid.NewGuid();
        var traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
        await PublishRawAsync("ADD_ARTIFACT_ALIAS",
            $$"""{"eventId":"{{eventId}}","eventType":"ADD_ARTIFACT_ALIAS","entity":"acme","project":"mnist","collection":"eval-set","alias":"production","versionIndex":7,"occurredAt":"2026-11-27T22:41:00Z"}""",
            new Dictionary<string, object?> { ["traceparent"] = Encoding.UTF8.GetBytes($"00-{traceId}-00f067aa0ba902b7-01") });

        var published = (await probe.WaitForEventsAsync(e => e.ProducerEventId == eventId)).Single();
        var message = published.Event;
        Assert.Equal(("acme", "mnist", "production", 7), (message.Entity, message.Project, message.Alias, message.VersionIndex));
        // MassTransit carries the W3C trace context in its MT-Activity-Id header, a batch in each item: the producer's
        // trace id survives the outbox.
        var activityId = published.Traceparent ?? "";
        Assert.StartsWith($"00-{traceId}-", activityId, StringComparison.Ordinal);

        await using var connection = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal("amqp", await connection.ExecuteScalarAsync<string>("select source from ingestion.events where event_id = @eventId", new { eventId }));
    }

    [Fact]
    public async Task Should_have_one_effect_when_a_producer_publishes_twice()
    {
        await using var probe = await PublishedEvents.StartAsync(fx.RabbitMqConnectionString);
        var eventId = "twice-" + Guid.NewGuid();
        var body = $$"""{"eventId":"{{eventId}}","eventType":"CREATE_ARTIFACT","entity":"acme","project":"mnist","collection":"eval-set","occurredAt":"2026-11-27T22:41:00Z"}""";
        await PublishRawAsync("CREATE_ARTIFACT", body);
        await PublishRawAsync("CREATE_ARTIFACT", body);
        var marker = "marker-" + Guid.NewGuid();
        await PublishRawAsync("CREATE_ARTIFACT", body.Replace(eventId, marker, StringComparison.Ordinal));
        await probe.WaitForEventsAsync(e => e.ProducerEventId == marker);
        Assert.Single(probe.Events(), e => e.Event.ProducerEventId == eventId);
    }

    public static TheoryData<string, string, string> Rejections => new()
    {
        { "malformed JSON", "{\"eventId\": \"m1\", oops", "body: not valid JSON" },
        { "missing field", """{"eventId":"m2","eventType":"CREATE_ARTIFACT","entity":"acme","project":"mnist","occurredAt":"2026-11-27T22:41:00Z"}""", "collection: is required" },
        { "unknown event type", """{"eventId":"m3","eventType":"DELETE_ARTIFACT","entity":"acme","project":"mnist","collection":"c","occurredAt":"2026-11-27T22:41:00Z"}""", "eventType: unknown event type" },
        { "unknown entity", """{"eventId":"m4","eventType":"CREATE_ARTIFACT","entity":"nobody","project":"mnist","collection":"c","occurredAt":"2026-11-27T22:41:00Z"}""", "entity: unknown entity \"nobody\"" },
        { "snake_case names", """{"event_id":"m5","event_type":"CREATE_ARTIFACT","entity":"acme","project":"mnist","collection":"c","occurred_at":"2026-11-27T22:41:00Z"}""", "use \"eventId\"" },
        { "not an object", "\"just a string\"", "body: must be a JSON object" },
    };

    [Theory]
    [MemberData(nameof(Rejections))]
    public async Task Should_keep_a_rejected_message_with_its_raw_body_and_reason(string @case, string body, string reason)
    {
        var marker = $"<{@case}:{Guid.NewGuid()}>";
        var raw = body.Contains("\"mnist\"", StringComparison.Ordinal) ? body.Replace("\"mnist\"", $"\"mnist\",\"tag\":\"{marker}\"", StringComparison.Ordinal)
            : body.StartsWith('"') ? body.Insert(body.Length - 1, " " + marker)
            : body + " " + marker;
        await PublishRawAsync("CREATE_ARTIFACT", raw);

        await Eventually.TrueAsync(async () =>
        {
            await using var c = await fx.DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<int>("select count(*) from ingestion.rejected_events where position(convert_to(@marker, 'UTF8') in raw_body) > 0", new { marker }) == 1;
        }, $"the {@case} message is kept in ingestion.rejected_events");

        await using var connection = await fx.DataSource.OpenConnectionAsync();
        var row = await connection.QuerySingleAsync<(string Reason, byte[] RawBody, string Source, string RoutingKey)>(
            "select reason, raw_body, source, routing_key from ingestion.rejected_events where position(convert_to(@marker, 'UTF8') in raw_body) > 0", new { marker });
        Assert.Contains(reason, row.Reason, StringComparison.Ordinal);
        Assert.Equal(raw, Encoding.UTF8.GetString(row.RawBody));
        Assert.Equal(("amqp", "CREATE_ARTIFACT"), (row.Source, row.RoutingKey));

        // Acknowledged, not requeued forever.
        using var mgmt = fx.ManagementClient();
        await Eventually.TrueAsync(async () =>
        {
            var q = System.Text.Json.JsonDocument.Parse(await mgmt.GetStringAsync($"api/queues/{fx.VirtualHost}/ingestion-artifact-events")).RootElement;
            return q.TryGetProperty("messages", out var m) && m.GetInt32() == 0;
        }, "the intake queue is drained");
    }

    public static TheoryData<string, string, string> Unstorable() => new()
    {
        { "NUL in collection", "\"collection\":\"eval-set\"", "\"collection\":\"eval\\u0000set\"" },
        { "NUL in author", "\"author\":\"jane\"", "\"author\":\"ja\\u0000ne\"" },
        { "NUL in metadata", "\"metadata\":{}", "\"metadata\":{\"head\":\"\\u0000\"}" },
        { "invalid UTF-8", "\"author\":\"jane\"", "\"author\":\"ja\u00ffne\"" },
        { "a lone surrogate", "\"author\":\"jane\"", "\"author\":\"\\udc00\"" },
    };

    /// <summary>
    /// A message PostgreSQL cannot store as an event (and whose raw body is not even UTF-8) is kept as rejected with a
    /// reason naming the field, not requeued forever; a NUL in its message id is kept too.
    /// </summary>
    [Theory]
    [MemberData(nameof(Unstorable))]
    public async Task Should_keep_a_message_PostgreSQL_cannot_store_as_rejected_naming_the_field(string @case, string replace, string with)
    {
        var marker = $"<{@case}:{Guid.NewGuid()}>";
        var text = $$$"""{"eventId":"{{{marker}}}","eventType":"CREATE_ARTIFACT","entity":"acme","project":"mnist","collection":"eval-set","author":"jane","occurredAt":"2026-11-27T22:41:00Z","metadata":{}}""";
        // "\u00ff" stands for the single byte 0xFF: the body is Latin-1 encoded there, which is not UTF-8.
        var raw = text.Replace(replace, with, StringComparison.Ordinal);
        var body = with.Contains('\u00ff', StringComparison.Ordinal) ? System.Text.Encoding.Latin1.GetBytes(raw) : Encoding.UTF8.GetBytes(raw);
        await PublishRawAsync("CREATE_ARTIFACT", body, messageId: "id-with-\0-nul");

        (string Reason, byte[] RawBody, string MessageId) row = default;
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await fx.DataSource.OpenConnectionAsync();
            var rows = (await c.QueryAsync<(string, byte[], string)>(
                "select reason, raw_body, message_id from ingestion.rejected_events where position(convert_to(@marker, 'UTF8') in raw_body) > 0", new { marker })).ToList();
            if (rows.Count == 1) row = rows[0];
            return rows.Count == 1;
        }, $"the message with {@case} is kept in ingestion.rejected_events");

        var field = @case == "invalid UTF-8" || @case == "a lone surrogate" ? "author" : with.Split('"')[1];
        Assert.StartsWith(field, row.Reason, StringComparison.Ordinal);
        Assert.Equal(body, row.RawBody);
        Assert.StartsWith("id-with-", row.MessageId, StringComparison.Ordinal);
        await using (var connection = await fx.DataSource.OpenConnectionAsync())
            Assert.Equal(0, await connection.ExecuteScalarAsync<int>("select count(*) from ingestion.events where event_id = @marker", new { marker }));

        using var mgmt = fx.ManagementClient();
        await Eventually.TrueAsync(async () =>
        {
            var q = System.Text.Json.JsonDocument.Parse(await mgmt.GetStringAsync($"api/queues/{fx.VirtualHost}/ingestion-artifact-events")).RootElement;
            return q.TryGetProperty("messages", out var m) && m.GetInt32() == 0;
        }, "the intake queue is drained");
    }
}
