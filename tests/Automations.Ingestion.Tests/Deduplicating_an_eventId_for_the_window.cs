using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Automations.Testing;
using Dapper;

namespace Automations.Ingestion.Tests;

/// <summary>Ingestion with partitions of a second and a dedupe window of four.</summary>
public class ShortRetentionFixture : IngestionFixture
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(4);
    public static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    public override Dictionary<string, string?> ServiceConfiguration()
    {
        var config = base.ServiceConfiguration();
        config["Retention:Interval"] = "00:00:01";
        config["Retention:DedupeWindow"] = "00:00:04";
        config["Retention:History"] = "00:01:00";
        config["Retention:CheckEvery"] = "00:00:01";
        return config;
    }
}

/// <summary>A producer's eventId is a duplicate for the dedupe window, across partitions; after it, the same id is a new event.</summary>
public class Deduplicating_an_eventId_for_the_window(ShortRetentionFixture fx) : IClassFixture<ShortRetentionFixture>
{
    private async Task<(Guid Id, bool Duplicate)> PostAsync(string eventId)
    {
        using var response = await fx.PostEventAsync(IngestionFixture.Event(eventId), fx.ProducerKey);
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return (body.GetProperty("id").GetGuid(), body.GetProperty("duplicate").GetBoolean());
    }

    private async Task<string> PartitionOfAsync(Guid id)
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        return await c.ExecuteScalarAsync<string>("select tableoid::regclass::text from ingestion.events where id = @id", new { id }) ?? "";
    }

    /// <summary>Waits until the database's clock is <paramref name="past"/> beyond the event's received_at.</summary>
    private async Task AgedAsync(Guid id, TimeSpan past) =>
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await fx.DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<bool>("select now() > received_at + @past from ingestion.events where id = @id", new { id, past });
        }, $"the event is older than {past}");

    private async Task PartitionsReadyAsync() =>
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await fx.DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<int>("select count(*) from pg_inherits where inhparent = 'ingestion.events'::regclass") > 3;
        }, "the service created partitions ahead");

    [Fact]
    public async Task Should_be_a_duplicate_inside_the_window_in_a_later_partition()
    {
        await PartitionsReadyAsync();
        var eventId = "inside-" + Guid.NewGuid();
        var first = await PostAsync(eventId);
        var firstPartition = await PartitionOfAsync(first.Id);
        Assert.DoesNotContain("default", firstPartition, StringComparison.Ordinal);

        // The copy lands in a later partition, where the partition's unique key cannot see the first: the window must.
        await AgedAsync(first.Id, ShortRetentionFixture.Interval);
        var copy = await PostAsync(eventId);
        Assert.True(copy.Duplicate);
        Assert.Equal(first.Id, copy.Id);
        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(1, await c.ExecuteScalarAsync<int>("select count(*) from ingestion.events where event_id = @eventId", new { eventId }));
    }

    [Fact]
    public async Task Should_be_a_new_event_after_the_window()
    {
        await PartitionsReadyAsync();
        var eventId = "after-" + Guid.NewGuid();
        var first = await PostAsync(eventId);
        // At most the window plus one partition interval: then the first copy is outside both the window and the partition the copy lands in.
        await AgedAsync(first.Id, ShortRetentionFixture.Window + ShortRetentionFixture.Interval);
        var later = await PostAsync(eventId);
        Assert.False(later.Duplicate);
        Assert.NotEqual(first.Id, later.Id);
        await using var c = await fx.DataSource.OpenConnectionAsync();
        Assert.Equal(2, await c.ExecuteScalarAsync<int>("select count(*) from ingestion.events where event_id = @eventId", new { eventId }));
    }
}
