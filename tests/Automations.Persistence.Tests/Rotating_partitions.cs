using Automations.Persistence.Retention;
using Automations.Testing;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;

namespace Automations.Persistence.Tests;

/// <summary>Partition maintenance with intervals of a second: partitions created ahead, old ones dropped, rows in progress kept.</summary>
public class Rotating_partitions(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    private static RetentionOptions Seconds(int history) => new()
    {
        History = TimeSpan.FromSeconds(history), DedupeWindow = TimeSpan.FromSeconds(1), Inbox = TimeSpan.FromSeconds(history),
        Interval = TimeSpan.FromSeconds(1), Ahead = 3, CheckEvery = TimeSpan.FromSeconds(1),
    };

    private PartitionMaintenance Maintenance(PartitionedTable table, RetentionOptions o) =>
        new(env.DataSource, [table], new FixedOptions<RetentionOptions>(o), NullLogger<PartitionMaintenance>.Instance);

    private async Task<List<(string Name, DateTime? High)>> PartitionsAsync(string table)
    {
        await using var c = await env.DataSource.OpenConnectionAsync();
        return (await c.QueryAsync<(string, DateTime?)>(
            """
            select i.inhrelid::regclass::text, (regexp_match(pg_get_expr(k.relpartbound, k.oid), $re$TO \('([^']+)'\)$re$))[1]::timestamptz
            from pg_inherits i join pg_class k on k.oid = i.inhrelid where i.inhparent = @table::regclass
            """, new { table })).AsList();
    }

    [Fact]
    public async Task Should_create_partitions_ahead_and_drop_old_ones_with_their_rows()
    {
        var table = new PartitionedTable("ingestion.events", "received_at", o => o.History) { PartitionDdl = "create unique index on {partition} (entity, event_id)" };
        var o = Seconds(history: 2);
        var maintenance = Maintenance(table, o);
        await maintenance.RotateAsync(table, o, CancellationToken.None);

        await using var c = await env.DataSource.OpenConnectionAsync();
        var dbNow = await c.ExecuteScalarAsync<DateTime>("select now()");
        Assert.Contains(await PartitionsAsync(table.Name), p => p.High >= dbNow.AddSeconds(2));
        await c.ExecuteAsync("""
            insert into ingestion.events (id, entity, event_id, event_type, project, collection, occurred_at, received_at, source)
            values (gen_random_uuid(), 'acme', 'old', 'CREATE_ARTIFACT', 'p', 'c', now(), now(), 'http')
            """);
        var oldPartition = await c.ExecuteScalarAsync<string>("select tableoid::regclass::text from ingestion.events where event_id = 'old'");
        Assert.NotEqual(table.DefaultPartition, oldPartition);

        // Once the old row's partition ends more than History ago, a pass drops it (and creates the next ones ahead).
        await Eventually.TrueAsync(async () =>
        {
            await maintenance.RotateAsync(table, o, CancellationToken.None);
            return !(await PartitionsAsync(table.Name)).Any(p => p.Name == oldPartition);
        }, "the old row's partition is dropped", TimeSpan.FromSeconds(20));
        Assert.Equal(0, await c.ExecuteScalarAsync<int>("select count(*) from ingestion.events where event_id = 'old'"));
        dbNow = await c.ExecuteScalarAsync<DateTime>("select now()");
        Assert.Contains(await PartitionsAsync(table.Name), p => p.High >= dbNow.AddSeconds(2));
        // Every partition created has the per-partition dedupe key.
        Assert.All((await PartitionsAsync(table.Name)).Where(p => p.Name.Contains("_p", StringComparison.Ordinal)), p =>
            Assert.Equal(1, c.ExecuteScalar<int>("select count(*) from pg_index where indrelid = @name::regclass and indisunique", new { name = p.Name })));
    }

    [Fact]
    public async Task Should_make_the_present_partition_while_writers_fill_the_default_one()
    {
        // No partition holds the present, as between the migration and the first pass: every row lands in the default
        // partition, and rows go on landing there while the pass waits for the table's lock (a writer holds it).
        await using var c = await env.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("""
            create table public.marks (id int, processed_at timestamptz not null default now()) partition by range (processed_at);
            create table public.marks_default partition of public.marks default;
            insert into public.marks (id) values (0);
            """);
        var table = new PartitionedTable("public.marks", "processed_at", o => o.Inbox);
        var o = Seconds(history: 60);
        var maintenance = Maintenance(table, o);

        await using var holder = await env.DataSource.OpenConnectionAsync();
        await using var holding = await holder.BeginTransactionAsync();
        await holder.ExecuteAsync("insert into public.marks (id) values (1)", transaction: holding);
        var pass = Task.Run(() => maintenance.RotateAsync(table, o, CancellationToken.None));
        // The pass holds its advisory lock from before its look at the table until it ends; it tries for the table's lock
        // for about a second before it gives the step up.
        await Eventually.TrueAsync(async () => await c.ExecuteScalarAsync<bool>(
            "select exists (select from pg_locks where locktype = 'advisory' and granted and database = (select oid from pg_database where datname = current_database()))"),
            "the pass started", TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));
        for (var id = 2; id < 12; id++)
        {
            await c.ExecuteAsync("insert into public.marks (id) values (@id)", new { id });
            await Task.Delay(20);
        }
        await holding.CommitAsync();

        var r = await pass;
        Assert.True(r!.Created >= 1, $"created {r.Created} partitions");
        Assert.Equal(12, await c.ExecuteScalarAsync<int>("select count(*) from public.marks"));
        await c.ExecuteAsync("insert into public.marks (id, processed_at) values (12, now() + interval '1 second')");
        Assert.NotEqual(table.DefaultPartition, await c.ExecuteScalarAsync<string>("select tableoid::regclass::text from public.marks where id = 12"));
    }

    [Fact]
    public async Task Should_keep_a_partition_while_it_holds_a_row_in_progress()
    {
        await using var c = await env.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("""
            create table public.work (id int, status text not null, created_at timestamptz not null default now()) partition by range (created_at);
            create table public.work_default partition of public.work default;
            """);
        var table = new PartitionedTable("public.work", "created_at", o => o.History) { HeldWhile = "status = 'pending'" };
        var o = Seconds(history: 1);
        var maintenance = Maintenance(table, o);
        await maintenance.RotateAsync(table, o, CancellationToken.None);
        await c.ExecuteAsync("insert into public.work (id, status) values (1, 'pending'), (2, 'done')");
        var partition = await c.ExecuteScalarAsync<string>("select tableoid::regclass::text from public.work where id = 1");

        // Well past History: the partition stays while row 1 is pending, and goes in the first pass after it is done.
        var cutoff = DateTime.UtcNow.AddSeconds(4);
        await Eventually.TrueAsync(async () =>
        {
            var r = await maintenance.RotateAsync(table, o, CancellationToken.None);
            return DateTime.UtcNow > cutoff && r!.Held == 1;
        }, "the pending row's partition is past History and held", TimeSpan.FromSeconds(20));
        Assert.Contains(await PartitionsAsync(table.Name), p => p.Name == partition);
        Assert.Equal(2, await c.ExecuteScalarAsync<int>("select count(*) from public.work"));

        await c.ExecuteAsync("update public.work set status = 'done' where id = 1");
        var last = await maintenance.RotateAsync(table, o, CancellationToken.None);
        Assert.Equal(0, last!.Held);
        Assert.DoesNotContain(await PartitionsAsync(table.Name), p => p.Name == partition);
        Assert.Equal(0, await c.ExecuteScalarAsync<int>("select count(*) from public.work"));
    }

    [Fact]
    public async Task Should_not_stop_the_tables_writers_while_a_due_partition_is_looked_at()
    {
        await using var c = await env.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("""
            create table public.jobs (id int, status text not null, created_at timestamptz not null default now()) partition by range (created_at);
            create table public.jobs_default partition of public.jobs default;
            """);
        var table = new PartitionedTable("public.jobs", "created_at", o => o.History) { HeldWhile = "status = 'pending'" };
        var o = Seconds(history: 1);
        var maintenance = Maintenance(table, o);
        await maintenance.RotateAsync(table, o, CancellationToken.None);
        await c.ExecuteAsync("insert into public.jobs (id, status) values (1, 'done')");
        var partition = await c.ExecuteScalarAsync<string>("select tableoid::regclass::text from public.jobs where id = 1");
        var high = (await PartitionsAsync(table.Name)).Single(p => p.Name == partition).High!.Value;
        await Eventually.TrueAsync(async () => await c.ExecuteScalarAsync<DateTime>("select now()") > high.AddSeconds(2),
            "the row's partition is past History", TimeSpan.FromSeconds(20));

        // A reader of the old partition alone (only the pass itself reads a partition directly): the pass must not wait for
        // it while it holds the whole table locked against its writers; it leaves the partition to the next check. Partitions
        // are due to be created in the same pass (more ahead).
        await using var reader = await env.DataSource.OpenConnectionAsync();
        await using var readerTx = await reader.BeginTransactionAsync();
        await reader.ExecuteAsync($"lock table {partition} in access share mode", transaction: readerTx);
        var more = Seconds(history: 1);
        more.Ahead = 30;
        await using var watcher = await env.DataSource.OpenConnectionAsync();
        var pass = Task.Run(() => maintenance.RotateAsync(table, more, CancellationToken.None));
        var stalled = false;
        while (!pass.IsCompleted)
        {
            stalled |= await watcher.ExecuteScalarAsync<bool>(
                """
                select exists (select from pg_locks where relation = @partition::regclass and not granted)
                   and exists (select from pg_locks where relation = 'public.jobs'::regclass and granted and mode = 'AccessExclusiveLock')
                """, new { partition });
            await Task.Delay(5);
        }
        var r = await pass;
        Assert.False(stalled, "the pass held public.jobs locked against its writers while it waited for the old partition");
        Assert.True(r!.Deferred >= 1);
        Assert.True(r.Created >= 1);
        Assert.Contains(await PartitionsAsync(table.Name), p => p.Name == partition);

        await readerTx.CommitAsync();
        var last = await maintenance.RotateAsync(table, o, CancellationToken.None);
        Assert.DoesNotContain(await PartitionsAsync(table.Name), p => p.Name == partition);
        Assert.True(last!.Dropped >= 1);
    }

    [Fact]
    public async Task Should_drop_due_partitions_while_writers_update_rows_through_the_table()
    {
        await using var c = await env.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync("""
            create table public.tasks (id bigint, status text not null, created_at timestamptz not null default now()) partition by range (created_at);
            create table public.tasks_default partition of public.tasks default;
            """);
        var table = new PartitionedTable("public.tasks", "created_at", o => o.History) { HeldWhile = "status = 'pending'" };
        var o = Seconds(history: 1);
        o.Ahead = 30; // rows never reach the default partition while passes are slowed by the writers
        var maintenance = Maintenance(table, o);
        await maintenance.RotateAsync(table, o, CancellationToken.None);

        // Writers as the webhook sender's: each transaction adds a row and updates another by id through the table, which
        // locks the table and then every partition (the id says nothing of the partition).
        using var stop = new CancellationTokenSource();
        long written = 0;
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            await using var conn = await env.DataSource.OpenConnectionAsync();
            for (var i = 0L; !stop.IsCancellationRequested; i++)
            {
                await using var tx = await conn.BeginTransactionAsync();
                await conn.ExecuteAsync("insert into public.tasks (id, status) values (@id, 'done')", new { id = w * 1_000_000_000L + i }, tx);
                await conn.ExecuteAsync("update public.tasks set status = 'done' where id = @id", new { id = w * 1_000_000_000L + i / 2 }, tx);
                await tx.CommitAsync();
                Interlocked.Increment(ref written);
            }
        })).ToList();

        var passes = new List<PartitionMaintenance.Rotation>();
        try
        {
            var until = DateTime.UtcNow.AddSeconds(8);
            while (DateTime.UtcNow < until)
            {
                passes.Add((await maintenance.RotateAsync(table, o, CancellationToken.None))!);
                await Task.Delay(300);
            }
        }
        finally
        {
            await stop.CancelAsync();
            await Task.WhenAll(writers);
        }

        Assert.True(written > 100, $"the writers wrote {written} transactions");
        Assert.True(passes.Sum(p => p.Dropped) >= 2, $"dropped {passes.Sum(p => p.Dropped)} partitions in {passes.Count} passes");
        // Once the writers stop, a pass leaves only the partitions still inside History and the ones ahead, besides the default.
        await maintenance.RotateAsync(table, o, CancellationToken.None);
        var dbNow = await c.ExecuteScalarAsync<DateTime>("select now()");
        Assert.All((await PartitionsAsync(table.Name)).Where(p => p.High is not null), p => Assert.True(p.High > dbNow.AddSeconds(-2), $"{p.Name} ends {p.High:o}"));
    }
}
