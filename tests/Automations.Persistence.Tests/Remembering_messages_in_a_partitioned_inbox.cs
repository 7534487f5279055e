using Automations.Persistence.Retention;
using Automations.Testing;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;

namespace Automations.Persistence.Tests;

/// <summary>
/// The inbox partitioned by processed_at, with intervals of a second: a mark in an older partition still kept stops a
/// copy, a mark whose partition went does not, and two copies in flight at once serialize on the partition's unique index.
/// </summary>
public class Remembering_messages_in_a_partitioned_inbox(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    private static readonly RetentionOptions Seconds = new()
    {
        History = TimeSpan.FromSeconds(3), DedupeWindow = TimeSpan.FromSeconds(1), Inbox = TimeSpan.FromSeconds(3),
        Interval = TimeSpan.FromSeconds(1), Ahead = 3, CheckEvery = TimeSpan.FromSeconds(1),
    };

    private const string Schema = "rules";

    private async Task<bool> MarkAsync(string consumer, Guid messageId)
    {
        await using var c = await env.DataSource.OpenConnectionAsync();
        await using var tx = await c.BeginTransactionAsync();
        var isNew = await Inbox.Inbox.TryBeginAsync(c, tx, Schema, consumer, messageId);
        await tx.CommitAsync();
        return isNew;
    }

    [Fact]
    public async Task Should_find_a_mark_in_an_older_kept_partition_and_forget_it_once_that_partition_goes()
    {
        var table = Inbox.Inbox.Table(Schema);
        var maintenance = new PartitionMaintenance(env.DataSource, [table], new FixedOptions<RetentionOptions>(Seconds), NullLogger<PartitionMaintenance>.Instance);
        await maintenance.RotateAsync(table, Seconds, CancellationToken.None);
        var id = Guid.NewGuid();
        Assert.True(await MarkAsync("older-partition", id));

        await using var c = await env.DataSource.OpenConnectionAsync();
        var first = await c.QuerySingleAsync<(string Partition, DateTime ProcessedAt)>(
            "select tableoid::regclass::text, processed_at from rules.inbox where consumer = 'older-partition' and message_id = @id", new { id });
        Assert.NotEqual(table.DefaultPartition, first.Partition);

        // A copy that lands in a later partition than the mark (whose unique index cannot see it) is still a duplicate.
        await Eventually.TrueAsync(async () => await c.ExecuteScalarAsync<DateTime>("select now()") >= first.ProcessedAt.AddSeconds(1.5),
            "the mark's partition is behind now", TimeSpan.FromSeconds(10));
        await maintenance.RotateAsync(table, Seconds, CancellationToken.None);
        Assert.False(await MarkAsync("older-partition", id));
        Assert.Equal(1, await c.ExecuteScalarAsync<int>("select count(*) from rules.inbox where consumer = 'older-partition' and message_id = @id", new { id }));
        Assert.Equal(first.Partition, await c.ExecuteScalarAsync<string>(
            "select tableoid::regclass::text from rules.inbox where consumer = 'older-partition' and message_id = @id", new { id }));

        // Once the mark's partition is older than Retention:Inbox it goes, and the same id is a new message.
        await Eventually.TrueAsync(async () =>
        {
            await maintenance.RotateAsync(table, Seconds, CancellationToken.None);
            return await c.ExecuteScalarAsync<bool>("select to_regclass(@p) is null", new { p = first.Partition });
        }, "the mark's partition is dropped", TimeSpan.FromSeconds(20));
        Assert.True(await MarkAsync("older-partition", id));
    }

    [Fact]
    public async Task Should_let_one_of_two_concurrent_marks_of_one_message_win()
    {
        var id = Guid.NewGuid();
        await using var c1 = await env.DataSource.OpenConnectionAsync();
        await using var tx1 = await c1.BeginTransactionAsync();
        Assert.True(await Inbox.Inbox.TryBeginAsync(c1, tx1, Schema, "concurrent", id));

        // The second copy, in flight while the first is not committed: its probe cannot see the first mark, so it must
        // wait on the partition's unique index, and insert nothing once the first commits.
        await using var c2 = await env.DataSource.OpenConnectionAsync();
        await using var tx2 = await c2.BeginTransactionAsync();
        var pid2 = c2.ProcessID;
        var second = Inbox.Inbox.TryBeginAsync(c2, tx2, Schema, "concurrent", id);
        await using var watch = await env.DataSource.OpenConnectionAsync();
        await Eventually.TrueAsync(async () => await watch.ExecuteScalarAsync<bool>(
            "select exists (select from pg_stat_activity where pid = @pid2 and wait_event_type = 'Lock')", new { pid2 }),
            "the second mark waits for the first", TimeSpan.FromSeconds(10));
        await tx1.CommitAsync();

        Assert.False(await second);
        await tx2.CommitAsync();
        Assert.Equal(1, await watch.ExecuteScalarAsync<int>("select count(*) from rules.inbox where consumer = 'concurrent' and message_id = @id", new { id }));
    }
}
