using Automations.Testing;

namespace Automations.Persistence.Tests;

/// <summary>
/// The bus reaches the broker through a proxy the test cuts (the shared broker keeps running): units keep committing,
/// and when the broker is back every message arrives and has its effect once.
/// </summary>
public class Losing_the_broker(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    [Fact]
    public async Task Should_keep_committing_and_deliver_everything_once_when_it_is_back()
    {
        await using var proxy = new TcpProxy(env.Infrastructure.RabbitMq.Host, env.Infrastructure.RabbitMq.Port);
        var viaProxy = new UriBuilder(env.RabbitMqConnectionString) { Port = proxy.Port }.Uri.ToString();
        await using var host = await UnitHost.StartAsync(env, new Dictionary<string, string?>
        {
            ["Outbox:Grace"] = "00:00:02",
            ["Outbox:PublishTimeout"] = "00:00:01",
        }, w => w.Relay(o =>
        {
            o.PollInterval = TimeSpan.FromMilliseconds(200);
            o.PublishTimeout = TimeSpan.FromSeconds(2);
        }), rabbitMq: viaProxy);

        var before = Guid.CreateVersion7();
        await host.ProduceAsync(before);
        await host.AssertExactlyOnceAsync([before]);

        proxy.Cut();
        var ids = Enumerable.Range(0, 20).Select(_ => Guid.CreateVersion7()).ToList();
        for (var i = 0; i < ids.Count; i++)
        {
            if (i % 2 == 0) Assert.True(await host.ProduceAsync(ids[i]));
            else await host.ProduceInTransactionAsync(ids[i]);
        }
        // The direct path failed and the relay has tried each row (after the grace) and failed: all still there.
        await Eventually.TrueAsync(async () =>
        {
            await using var c = await env.DataSource.OpenConnectionAsync();
            return await Dapper.SqlMapper.ExecuteScalarAsync<int>(c, "select count(*) from ingestion.outbox where message_id = any(@ids) and attempts > 0",
                new { ids = ids.ToArray() }) == ids.Count;
        }, "the relay tried every row and failed", TimeSpan.FromSeconds(60));
        Assert.DoesNotContain(ids, host.Deliveries.Seen.ContainsKey);

        proxy.Restore();
        await host.AssertExactlyOnceAsync(ids, TimeSpan.FromSeconds(120));
    }
}
