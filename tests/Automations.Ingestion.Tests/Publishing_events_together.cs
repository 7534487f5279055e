using System.Net;
using Automations.Testing;
using Dapper;

namespace Automations.Ingestion.Tests;

/// <summary>
/// Events Ingestion commits while its last publish of an event waits for the broker's confirm (or, with
/// Outbox:IdleLinger, while the first waits for others) travel together as one ArtifactEventsReceived; an event
/// committed when none is in flight goes at once, alone, its message id its event id. Each event is published once
/// either way, and its outbox row is deleted once confirmed.
/// </summary>
public class Publishing_events_together(IngestionFixture fx) : IClassFixture<IngestionFixture>
{
    private async Task<ServiceHost> StartAsync(Dictionary<string, string?> overrides)
    {
        var config = fx.ServiceConfiguration();
        foreach (var (k, v) in overrides) config[k] = v;
        return await ServiceHost.StartAsync(Program.Build, config);
    }

    private async Task<List<string>> PostAsync(ServiceHost ingestion, int count, string prefix)
    {
        var ids = Enumerable.Range(0, count).Select(i => $"{prefix}-{i}-{Guid.NewGuid():N}").ToList();
        var responses = await Task.WhenAll(ids.Select(id => IngestionFixture.PostEventAsync(ingestion.Client, IngestionFixture.Event(id), fx.ProducerKey)));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Accepted, r.StatusCode));
        foreach (var r in responses) r.Dispose();
        return ids;
    }

    private async Task DrainedAsync(MessageProbe probe, IEnumerable<string> ids)
    {
        var set = ids.ToArray();
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await fx.DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<int>("select count(*) from ingestion.outbox where body->>'producerEventId' = any(@set)", new { set }) == 0;
        }, "the published rows are deleted");
        await probe.CatchUpAsync();
    }

    [Fact]
    public async Task Should_send_events_that_waited_together_in_fewer_messages_each_once()
    {
        // The first event waits up to half a second for others: twenty posted at once travel in a few messages.
        await using var ingestion = await StartAsync(new() { ["Outbox:IdleLinger"] = "00:00:00.500" });
        await using var probe = await PublishedEvents.StartAsync(fx.RabbitMqConnectionString);

        var ids = await PostAsync(ingestion, 20, "together");
        var set = ids.ToHashSet();
        await probe.WaitForEventsAsync(e => set.Contains(e.ProducerEventId), 20);
        await DrainedAsync(probe, ids);

        var events = probe.Events().Where(e => set.Contains(e.Event.ProducerEventId)).ToList();
        Assert.Equal(20, events.Count);
        Assert.Equal(20, events.Select(e => e.Event.EventId).Distinct().Count());
        var messages = probe.Received.Count(d => PublishedEvents.Of(d).Any(e => set.Contains(e.Event.ProducerEventId)));
        Assert.InRange(messages, 1, 10);
        Assert.Contains(events, e => e.InBatch);
        // Each item carries the trace of the request that stored it, for Rules to continue.
        Assert.All(events.Where(e => e.InBatch), e => Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]$", e.Traceparent));
        Assert.All(events.Where(e => !e.InBatch), e => Assert.Equal(e.Event.EventId, e.MessageId));
    }

    [Fact]
    public async Task Should_send_an_event_alone_when_no_publish_is_in_flight()
    {
        await using var probe = await PublishedEvents.StartAsync(fx.RabbitMqConnectionString);

        var id = Assert.Single(await PostAsync(fx.Ingestion, 1, "alone"));

        var published = Assert.Single(await probe.WaitForEventsAsync(e => e.ProducerEventId == id));
        Assert.False(published.InBatch);
        Assert.Equal(published.Event.EventId, published.MessageId);
    }

    [Fact]
    public async Task Should_keep_a_batch_within_its_byte_bound()
    {
        // Each event weighs well over 300 bytes as Rules would hold it: one per message, however long they wait.
        await using var ingestion = await StartAsync(new() { ["Outbox:IdleLinger"] = "00:00:00.500", ["Outbox:MaxBatchBytes"] = "300" });
        await using var probe = await PublishedEvents.StartAsync(fx.RabbitMqConnectionString);

        var ids = await PostAsync(ingestion, 6, "bound");
        var set = ids.ToHashSet();
        await probe.WaitForEventsAsync(e => set.Contains(e.ProducerEventId), 6);
        await DrainedAsync(probe, ids);

        var carrying = probe.Received.Where(d => PublishedEvents.Of(d).Any(e => set.Contains(e.Event.ProducerEventId))).ToList();
        Assert.Equal(6, carrying.Count);
        Assert.All(carrying, d => Assert.Single(PublishedEvents.Of(d)));
    }

    [Fact]
    public async Task Should_send_every_event_alone_when_batching_is_off()
    {
        await using var ingestion = await StartAsync(new() { ["Outbox:Batch"] = "false", ["Outbox:IdleLinger"] = "00:00:00.500" });
        await using var probe = await PublishedEvents.StartAsync(fx.RabbitMqConnectionString);

        var ids = await PostAsync(ingestion, 10, "off");
        var set = ids.ToHashSet();
        await probe.WaitForEventsAsync(e => set.Contains(e.ProducerEventId), 10);
        await DrainedAsync(probe, ids);

        Assert.Equal(10, probe.Events().Count(e => set.Contains(e.Event.ProducerEventId)));
        Assert.DoesNotContain(probe.Events(), e => set.Contains(e.Event.ProducerEventId) && e.InBatch);
    }
}
