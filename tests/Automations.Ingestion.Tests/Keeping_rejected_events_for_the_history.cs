using Automations.Persistence.Retention;
using Automations.Testing;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;

namespace Automations.Ingestion.Tests;

/// <summary>Refused messages under retention, with intervals of a second: they go with their partition once it is older than History.</summary>
public class Keeping_rejected_events_for_the_history(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    private static readonly RetentionOptions Seconds = new()
    {
        History = TimeSpan.FromSeconds(2), DedupeWindow = TimeSpan.FromSeconds(1), Inbox = TimeSpan.FromSeconds(2),
        Interval = TimeSpan.FromSeconds(1), Ahead = 3, CheckEvery = TimeSpan.FromSeconds(1),
    };

    [Fact]
    public async Task Should_drop_rejected_events_older_than_the_history()
    {
        var table = Extensions.RejectedEvents;
        var maintenance = new PartitionMaintenance(env.DataSource, [table], new FixedOptions<RetentionOptions>(Seconds), NullLogger<PartitionMaintenance>.Instance);
        await maintenance.RotateAsync(table, Seconds, CancellationToken.None);
        await using var c = await env.DataSource.OpenConnectionAsync();
        var id = await c.ExecuteScalarAsync<long>(
            "insert into ingestion.rejected_events (source, reason, raw_body) values ('amqp', 'not JSON', '\\x00ff'::bytea) returning id");
        var partition = await c.ExecuteScalarAsync<string>("select tableoid::regclass::text from ingestion.rejected_events where id = @id", new { id });
        Assert.StartsWith("ingestion.rejected_events_p", partition);

        await Eventually.TrueAsync(async () =>
        {
            await maintenance.RotateAsync(table, Seconds, CancellationToken.None);
            return await c.ExecuteScalarAsync<bool>("select to_regclass(@partition) is null", new { partition });
        }, "the rejected event's partition is dropped", TimeSpan.FromSeconds(20));
        Assert.Equal(0, await c.ExecuteScalarAsync<int>("select count(*) from ingestion.rejected_events where id = @id", new { id }));
        // New ones still land in a partition ahead, numbered on.
        Assert.True(await c.ExecuteScalarAsync<long>(
            "insert into ingestion.rejected_events (source, reason, raw_body) values ('amqp', 'not JSON', '\\x00'::bytea) returning id") > id);
    }
}
