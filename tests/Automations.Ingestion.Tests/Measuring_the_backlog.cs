using System.Net;
using Automations.Testing;
using Dapper;

namespace Automations.Ingestion.Tests;

/// <summary>
/// Backlog per stage as metrics: the outbox rows not yet published (counted by the relay) and the statements waiting
/// for a group-commit writer, on the host's Automations meter; and /health/ready stays ready with a backlog, which
/// is work to do, not a fault.
/// </summary>
public class Measuring_the_backlog(IngestionFixture fx) : IClassFixture<IngestionFixture>
{
    [Fact]
    public async Task Should_report_unsent_outbox_rows_and_the_group_commit_queue_and_stay_ready()
    {
        using var outbox = fx.Ingestion.Metric<long>("automations.outbox.backlog");
        using var queue = fx.Ingestion.Metric<int>("automations.group_commit.queue");
        // 500 rows the relay may not take yet (each is its writer's for an hour): a backlog that stays put.
        await using (var c = await fx.DataSource.OpenConnectionAsync())
            await c.ExecuteAsync("""
                insert into ingestion.outbox (message_id, message_type, body, available_at)
                select gen_random_uuid(), 'backlog-test', '{}'::json, now() + interval '1 hour' from generate_series(1, 500)
                """);
        using (var accepted = await fx.PostEventAsync(IngestionFixture.Event(Guid.NewGuid().ToString()), fx.ProducerKey))
            Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);

        await Eventually.TrueAsync(() =>
        {
            outbox.RecordObservableInstruments();
            return Task.FromResult(outbox.GetMeasurementSnapshot().Any(m => (string?)m.Tags["schema"] == "ingestion" && m.Value >= 500));
        }, "the relay reports the 500 rows", TimeSpan.FromSeconds(30));
        queue.RecordObservableInstruments();
        var waiting = Assert.Single(queue.GetMeasurementSnapshot(), m => (string?)m.Tags["name"] == "ingestion");
        Assert.InRange(waiting.Value, 0, 256);

        using var ready = await fx.Ingestion.Client.GetAsync("/health/ready");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
    }
}
