using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Automations.Contracts;
using Automations.Testing;
using Dapper;
using RabbitMQ.Client;

namespace Automations.Ingestion.Tests;

/// <summary>RUN_STATE and RUN_METRIC events take the artifact events' intake: same endpoint and exchange, keys, dedupe, rejects.</summary>
public class Sending_run_events(IngestionFixture fx) : IClassFixture<IngestionFixture>
{
    private static object Metric(string eventId, string entity = "acme") => new
    {
        eventId, eventType = "RUN_METRIC", entity, project = "mnist", runId = "3kq1x9ab", runName = "glad-sky-7", user = "jane",
        tags = new[] { "baseline" }, step = 120, metrics = new Dictionary<string, double> { ["val_loss"] = 0.31, ["accuracy"] = 0.91 },
        occurredAt = "2026-12-03T21:00:00Z",
    };

    private async Task PublishRawAsync(string routingKey, string body)
    {
        var factory = new ConnectionFactory { Uri = new Uri(fx.RabbitMqConnectionString) };
        await using var connection = await factory.CreateConnectionAsync();
        await using var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await channel.ExchangeDeclareAsync(Exchanges.ArtifactEvents, ExchangeType.Topic, durable: true, autoDelete: false);
        await channel.BasicPublishAsync(Exchanges.ArtifactEvents, routingKey, mandatory: false, new BasicProperties { Persistent = true }, Encoding.UTF8.GetBytes(body));
    }

    [Fact]
    public async Task Should_store_a_metric_event_once_and_publish_RunEventReceived()
    {
        await using var probe = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(RunEventReceived));
        var eventId = "m-" + Guid.NewGuid();
        using var first = await fx.PostEventAsync(Metric(eventId), fx.ProducerKey);
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        var a = await first.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(a.GetProperty("duplicate").GetBoolean());
        using var second = await fx.PostEventAsync(Metric(eventId), fx.ProducerKey);
        var b = await second.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(b.GetProperty("duplicate").GetBoolean());
        Assert.Equal(a.GetProperty("id").GetGuid(), b.GetProperty("id").GetGuid());

        var message = (await probe.WaitForAsync(d => d.Message.GetProperty("producerEventId").GetString() == eventId)).Single().As<RunEventReceived>();
        Assert.Equal(("RUN_METRIC", "3kq1x9ab", "glad-sky-7", "jane"), (message.EventType, message.RunId, message.RunName!, message.User!));
        Assert.Equal(120L, message.Step!.Value);
        Assert.Equal(0.31, message.Metrics!["val_loss"]);
        Assert.Equal(["baseline"], message.Tags!);

        await using var c = await fx.DataSource.OpenConnectionAsync();
        var row = await c.QuerySingleAsync<(string RunId, long Step, string Metrics, string? Collection)>(
            "select run_id, step, metrics::text, collection from ingestion.events where event_id = @eventId", new { eventId });
        Assert.Equal(("3kq1x9ab", 120L), (row.RunId, row.Step));
        Assert.Null(row.Collection);
        Assert.Contains("\"val_loss\": 0.31", row.Metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_answer_403_for_a_run_event_of_another_entity()
    {
        using var r = await fx.PostEventAsync(Metric("x-" + Guid.NewGuid(), entity: "globex"), fx.ProducerKey);
        Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode);
    }

    public static TheoryData<string, string, string> Bad => new()
    {
        { "no run id", """{"eventId":"b1","eventType":"RUN_STATE","entity":"acme","project":"mnist","state":"running","occurredAt":"2026-12-03T21:00:00Z"}""", "runId" },
        { "unknown state", """{"eventId":"b2","eventType":"RUN_STATE","entity":"acme","project":"mnist","runId":"r1","state":"paused","occurredAt":"2026-12-03T21:00:00Z"}""", "state" },
        { "metric not a number", """{"eventId":"b3","eventType":"RUN_METRIC","entity":"acme","project":"mnist","runId":"r1","step":1,"metrics":{"loss":"low"},"occurredAt":"2026-12-03T21:00:00Z"}""", "metrics.loss" },
        { "no step", """{"eventId":"b4","eventType":"RUN_METRIC","entity":"acme","project":"mnist","runId":"r1","metrics":{"loss":1},"occurredAt":"2026-12-03T21:00:00Z"}""", "step" },
        { "negative step", """{"eventId":"b5","eventType":"RUN_METRIC","entity":"acme","project":"mnist","runId":"r1","step":-3,"metrics":{"loss":1},"occurredAt":"2026-12-03T21:00:00Z"}""", "step" },
        { "run id with a slash", """{"eventId":"b6","eventType":"RUN_STATE","entity":"acme","project":"mnist","runId":"a/b","state":"running","occurredAt":"2026-12-03T21:00:00Z"}""", "runId" },
        // An element is named as every other answer names one (tags[1], as args[0] or metadata.notes[1]).
        { "a number for a tag", """{"eventId":"b7","eventType":"RUN_STATE","entity":"acme","project":"mnist","runId":"r1","tags":["ok",7],"state":"running","occurredAt":"2026-12-03T21:00:00Z"}""", "tags[1]" },
        { "NaN as a string for a metric", """{"eventId":"b8","eventType":"RUN_METRIC","entity":"acme","project":"mnist","runId":"r1","step":1,"metrics":{"loss":"NaN"},"occurredAt":"2026-12-03T21:00:00Z"}""", "metrics.loss" },
        { "2^63 as a step", """{"eventId":"b9","eventType":"RUN_METRIC","entity":"acme","project":"mnist","runId":"r1","step":9223372036854775808,"metrics":{"loss":1},"occurredAt":"2026-12-03T21:00:00Z"}""", "step" },
    };

    [Fact]
    public async Task Should_store_any_finite_double_as_a_metric_value()
    {
        var eventId = "big-" + Guid.NewGuid();
        var body = $$"""{"eventId":"{{eventId}}","eventType":"RUN_METRIC","entity":"acme","project":"mnist","runId":"r1","step":1,"metrics":{"huge":9223372036854775808,"max":1.7976931348623157e308,"tiny":-5e-324},"occurredAt":"2026-12-03T21:00:00Z"}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", fx.ProducerKey);
        using var r = await fx.Ingestion.Client.SendAsync(request);
        Assert.True(r.StatusCode == HttpStatusCode.Accepted, await r.Content.ReadAsStringAsync());
        await using var c = await fx.DataSource.OpenConnectionAsync();
        var stored = await c.QuerySingleAsync<(double Huge, double Max, double Tiny)>(
            "select (metrics->>'huge')::float8, (metrics->>'max')::float8, (metrics->>'tiny')::float8 from ingestion.events where event_id = @eventId", new { eventId });
        Assert.Equal((9223372036854775808d, double.MaxValue, -double.Epsilon), stored);
    }

    [Theory]
    [MemberData(nameof(Bad))]
    public async Task Should_refuse_a_bad_run_event_over_http_naming_the_field(string @case, string body, string field)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/events") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", fx.ProducerKey);
        using var r = await fx.Ingestion.Client.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, r.StatusCode);
        Assert.Equal("application/problem+json", r.Content.Headers.ContentType?.MediaType);
        var problem = await r.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), $"{@case}: {problem}");
    }

    [Theory]
    [MemberData(nameof(Bad))]
    public async Task Should_keep_a_bad_run_event_over_amqp_with_its_reason(string @case, string body, string field)
    {
        var marker = $"m-{Guid.NewGuid()}";
        var raw = body.Replace("\"project\":\"mnist\"", $"\"project\":\"mnist\",\"runName\":\"{marker}\"", StringComparison.Ordinal);
        await PublishRawAsync("RUN_STATE", raw);
        string? reason = null;
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await fx.DataSource.OpenConnectionAsync();
            reason = await c.ExecuteScalarAsync<string?>("select reason from ingestion.rejected_events where position(convert_to(@marker, 'UTF8') in raw_body) > 0", new { marker });
            return reason is not null;
        }, $"the {@case} message is kept in ingestion.rejected_events");
        Assert.StartsWith(field + ":", reason!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Should_take_a_valid_run_state_over_amqp()
    {
        await using var probe = await MessageProbe.StartAsync(fx.RabbitMqConnectionString, nameof(RunEventReceived));
        var eventId = "s-" + Guid.NewGuid();
        await PublishRawAsync("RUN_STATE", $$"""{"eventId":"{{eventId}}","eventType":"RUN_STATE","entity":"acme","project":"mnist","runId":"r9","state":"crashed","occurredAt":"2026-12-03T21:00:00Z"}""");
        var message = (await probe.WaitForAsync(d => d.Message.GetProperty("producerEventId").GetString() == eventId)).Single().As<RunEventReceived>();
        Assert.Equal(("RUN_STATE", "r9", "crashed"), (message.EventType, message.RunId, message.State!));
    }
}
