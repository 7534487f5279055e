using System.Text;
using System.Text.Json;
using Automations.Contracts;
using Automations.Core.Events;
using Automations.Security.Tests.HostileInput;
using Automations.Testing;
using Dapper;
using RabbitMQ.Client;

namespace Automations.Security.Tests;

/// <summary>
/// The same hostile events as the walk sends to POST /v1/events (artifact and run events), published raw to the
/// artifact-events exchange as a producer in any language would, with the event type as routing key: each is kept in
/// ingestion.rejected_events with its exact bytes and a reason naming the field, none becomes an event but the legal
/// ones (2^63 as a metric), which are stored, the intake queue drains (nothing requeued forever) and Ingestion stays ready.
/// </summary>
[Trait("Category", "Security")]
public class Publishing_hostile_events_over_amqp(HostileInputFixture fx) : IClassFixture<HostileInputFixture>
{
    [Fact]
    public async Task Should_keep_every_hostile_event_as_rejected_with_its_reason_and_drain_the_queue()
    {
        var events = Operations.Listed.Single(o => o.Path == "/v1/events");
        var cases = HostileCases.For(events, fx).Where(c => !c.ParameterCase && c.ContentType == "application/json")
            .Select((c, i) => (Case: c, MessageId: $"walk-{i}"))
            .ToList();
        var refused = cases.Where(c => !c.Case.MustAccept).ToList();
        var legal = cases.Where(c => c.Case.MustAccept).ToList();
        var eventsBefore = await CountAsync("select count(*) from ingestion.events");

        var factory = new ConnectionFactory { Uri = new Uri(fx.RabbitMqConnectionString) };
        await using (var connection = await factory.CreateConnectionAsync())
        await using (var channel = await connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
        {
            foreach (var (c, messageId) in cases)
                await channel.BasicPublishAsync(Exchanges.ArtifactEvents, RoutingKey(c.Body!), mandatory: false,
                    new BasicProperties { Persistent = true, MessageId = messageId }, c.Body!);
            // A message id no text column can hold.
            await channel.BasicPublishAsync(Exchanges.ArtifactEvents, "ADD_ARTIFACT_ALIAS", mandatory: false,
                new BasicProperties { Persistent = true, MessageId = "walk-nul-\0-id" }, "{\"eventId\":"u8.ToArray());
        }

        try
        {
            await Eventually.TrueAsync(async () => await CountAsync("select count(*) from ingestion.rejected_events where message_id like 'walk-%'") == refused.Count + 1
                && await CountAsync("select count(*) from ingestion.events") == eventsBefore + legal.Count,
                "every hostile message is kept in ingestion.rejected_events", TimeSpan.FromSeconds(60));
        }
        catch (TimeoutException) { }

        await using var db = await fx.DataSource.OpenConnectionAsync();
        var rows = (await db.QueryAsync<(string MessageId, string Reason, byte[] RawBody)>(
            "select message_id, reason, raw_body from ingestion.rejected_events where message_id like 'walk-%'")).ToDictionary(r => r.MessageId);
        var failures = new List<string>();
        foreach (var (c, messageId) in legal)
            if (rows.TryGetValue(messageId, out var rejected)) failures.Add($"{c.Name}: a legal value, rejected: {rejected.Reason}");
        foreach (var (c, messageId) in refused)
        {
            if (!rows.TryGetValue(messageId, out var row))
            {
                failures.Add($"{c.Name}: not kept in ingestion.rejected_events");
                continue;
            }
            // An oversized body is kept up to the largest an event may be.
            var kept = c.Body!.Length > EventValidator.MaxBodyBytes ? c.Body.AsSpan(0, EventValidator.MaxBodyBytes) : c.Body;
            if (!row.RawBody.AsSpan().SequenceEqual(kept)) failures.Add($"{c.Name}: the raw body kept is not the one sent");
            if (c.Field is { } field && field != "body" && !row.Reason.Contains(field, StringComparison.Ordinal) && !field.StartsWith(row.Reason.Split(':')[0] + ".", StringComparison.Ordinal))
                failures.Add($"{c.Name}: the reason does not name {field}: {row.Reason}");
        }
        if (!rows.Keys.Any(k => k.StartsWith("walk-nul-", StringComparison.Ordinal))) failures.Add("a message id with a NUL: not kept in ingestion.rejected_events");
        Assert.True(failures.Count == 0, $"{failures.Count} of {cases.Count + 1} messages:\n" + string.Join("\n", failures));
        Assert.Equal(eventsBefore + legal.Count, await CountAsync("select count(*) from ingestion.events"));

        using var mgmt = fx.ManagementClient();
        await Eventually.TrueAsync(async () =>
        {
            var q = JsonDocument.Parse(await mgmt.GetStringAsync($"api/queues/{fx.VirtualHost}/ingestion-artifact-events")).RootElement;
            return q.TryGetProperty("messages", out var m) && m.GetInt32() == 0;
        }, "the intake queue is drained");
        Assert.Null(await fx.UnreadyServiceAsync());
    }

    /// <summary>The event type the body names, as a producer routes it (the intake reads the body, not the key).</summary>
    private static string RoutingKey(byte[] body) =>
        body.AsSpan().IndexOf("\"RUN_STATE\""u8) >= 0 ? "RUN_STATE" : body.AsSpan().IndexOf("\"RUN_METRIC\""u8) >= 0 ? "RUN_METRIC" : "ADD_ARTIFACT_ALIAS";

    private async Task<long> CountAsync(string sql)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<long>(sql);
    }
}
