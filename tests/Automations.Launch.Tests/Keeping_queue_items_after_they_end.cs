using Automations.Persistence.Retention;
using Automations.Testing;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;

namespace Automations.Launch.Tests;

/// <summary>
/// Queue items under retention, with intervals of a second: an ended item goes with its partition, an item still in
/// progress stays however old it is, and holds no other item's partition.
/// </summary>
public class Keeping_queue_items_after_they_end(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    private static readonly RetentionOptions Seconds = new()
    {
        History = TimeSpan.FromSeconds(2), DedupeWindow = TimeSpan.FromSeconds(1), Inbox = TimeSpan.FromSeconds(2),
        Interval = TimeSpan.FromSeconds(1), Ahead = 3, CheckEvery = TimeSpan.FromSeconds(1),
    };

    [Fact]
    public async Task Should_drop_an_ended_item_and_keep_one_still_queued_or_running()
    {
        var table = LaunchEnqueuer.Extensions.QueueItems;
        var maintenance = new PartitionMaintenance(env.DataSource, [table], new FixedOptions<RetentionOptions>(Seconds), NullLogger<PartitionMaintenance>.Instance);
        await maintenance.RotateAsync(table, Seconds, CancellationToken.None);
        await using var c = await env.DataSource.OpenConnectionAsync();
        // Queued a day ago and never claimed; running since an hour; and one that ended now (as QueueItemStore ends it).
        var queued = await InsertAsync(c, "queued", TimeSpan.FromDays(1));
        var running = await InsertAsync(c, "running", TimeSpan.FromHours(1));
        var ended = await InsertAsync(c, "running", TimeSpan.FromHours(1));
        await c.ExecuteAsync("update launch.queue_items set state = 'finished', exit_code = 0, ended_at = now(), retain_from = now() where id = @ended", new { ended });
        var endedPartition = await c.ExecuteScalarAsync<string>("select tableoid::regclass::text from launch.queue_items where id = @ended", new { ended });
        Assert.StartsWith("launch.queue_items_p", endedPartition);
        Assert.Equal("launch.queue_items_pending", await c.ExecuteScalarAsync<string>("select tableoid::regclass::text from launch.queue_items where id = @running", new { running }));

        await Eventually.TrueAsync(async () =>
        {
            await maintenance.RotateAsync(table, Seconds, CancellationToken.None);
            return await c.ExecuteScalarAsync<bool>("select to_regclass(@endedPartition) is null", new { endedPartition });
        }, "the ended item's partition is dropped", TimeSpan.FromSeconds(20));
        Assert.Equal(new[] { queued, running }.Order(), (await c.QueryAsync<Guid>("select id from launch.queue_items")).Order());

        // The running item ends: it moves to the partition of its end, and goes with it.
        await c.ExecuteAsync("update launch.queue_items set state = 'failed', ended_at = now(), retain_from = now() where id = @running", new { running });
        await Eventually.TrueAsync(async () =>
        {
            await maintenance.RotateAsync(table, Seconds, CancellationToken.None);
            return await c.ExecuteScalarAsync<int>("select count(*) from launch.queue_items where id = @running", new { running }) == 0;
        }, "the item that ended later goes later", TimeSpan.FromSeconds(20));
        Assert.Equal(1, await c.ExecuteScalarAsync<int>("select count(*) from launch.queue_items where id = @queued and state = 'queued'", new { queued }));
    }

    private static async Task<Guid> InsertAsync(Npgsql.NpgsqlConnection c, string state, TimeSpan age)
    {
        var id = Guid.CreateVersion7();
        await c.ExecuteAsync("""
            insert into launch.queue_items (id, command_id, run_id, event_id, automation_id, entity, project, queue_id, job_id, job_version, event, state, created_at)
            values (@id, gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), gen_random_uuid(), 'acme', 'p', gen_random_uuid(), gen_random_uuid(), 1, '{}', @state, now() - @age)
            """, new { id, state, age });
        return id;
    }
}
