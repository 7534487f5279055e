using System.Net;
using Automations.Contracts;
using Automations.Testing;
using Dapper;

namespace Automations.Ingestion.Tests;

/// <summary>Ingestion reaches the broker through a proxy the test cuts: HTTP intake keeps accepting, and everything is published once the broker is back.</summary>
public class BrokerOutageFixture : IngestionFixture
{
    public TcpProxy Proxy { get; private set; } = null!;

    public override Dictionary<string, string?> ServiceConfiguration()
    {
        Proxy ??= new TcpProxy(Infrastructure.RabbitMq.Host, Infrastructure.RabbitMq.Port);
        var config = base.ServiceConfiguration();
        config["ConnectionStrings:RabbitMq"] = new UriBuilder(RabbitMqConnectionString) { Port = Proxy.Port }.Uri.ToString();
        return config;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        if (Proxy is not null) await Proxy.DisposeAsync();
    }
}

public class Losing_the_broker(BrokerOutageFixture fx) : IClassFixture<BrokerOutageFixture>
{
    [Fact]
    public async Task Should_keep_accepting_and_publish_everything_when_it_is_back()
    {
        await using var probe = await PublishedEvents.StartAsync(fx.RabbitMqConnectionString);
        var before = "before-" + Guid.NewGuid();
        Assert.Equal(HttpStatusCode.Accepted, (await fx.PostEventAsync(IngestionFixture.Event(before), fx.ProducerKey)).StatusCode);
        await probe.WaitForEventsAsync(e => e.ProducerEventId == before);

        fx.Proxy.Cut();
        var ids = Enumerable.Range(0, 25).Select(i => $"outage-{i}-{Guid.NewGuid()}").ToList();
        foreach (var id in ids)
        {
            using var response = await fx.PostEventAsync(IngestionFixture.Event(id), fx.ProducerKey);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        }
        // Events wait in the outbox while the broker is away: the relay has tried each of them (after the direct
        // path's grace) and failed, and they are all still there.
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await fx.DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<int>("select count(*) from ingestion.outbox where body->>'producerEventId' like 'outage-%' and attempts > 0") == ids.Count;
        }, "the relay tried every event and failed", TimeSpan.FromSeconds(90));
        await using (var connection = await fx.DataSource.OpenConnectionAsync())
            Assert.Equal(ids.Count, await connection.ExecuteScalarAsync<int>("select count(*) from ingestion.outbox where body->>'producerEventId' like 'outage-%'"));
        Assert.DoesNotContain(probe.Events(), e => e.Event.ProducerEventId.StartsWith("outage-", StringComparison.Ordinal));

        fx.Proxy.Restore();
        var set = ids.ToHashSet();
        await probe.WaitForEventsAsync(e => set.Contains(e.ProducerEventId), ids.Count, TimeSpan.FromSeconds(90));
        var seen = probe.Events().Select(e => e.Event.ProducerEventId).Where(set.Contains).ToList();
        Assert.Equal(ids.Order(), seen.Distinct().Order());
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await fx.DataSource.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<int>("select count(*) from ingestion.outbox") == 0;
        }, "the outbox drains");
    }
}
