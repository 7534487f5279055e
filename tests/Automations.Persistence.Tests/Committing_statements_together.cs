using System.Diagnostics.Metrics;
using Automations.Persistence.GroupCommit;
using Automations.Persistence.Writes;
using Automations.Testing;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Automations.Persistence.Tests;

/// <summary>
/// Group commit (shared by Ingestion, Rules and the sender): statements queued by many callers at once go to
/// PostgreSQL together, each caller gets its own rows back, and one bad statement fails only its own caller.
/// </summary>
public class Committing_statements_together(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    private static readonly WritesMetrics Metrics = new(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());

    private async Task<string> TableAsync()
    {
        var table = "gc_" + Guid.NewGuid().ToString("N")[..8];
        await using var c = await env.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync($"create table public.{table} (id int primary key, note text not null)");
        return table;
    }

    private static string Insert(string table) =>
        $"with made as (insert into public.{table} (id, note) values (@id, @note) on conflict (id) do nothing returning id) select count(*)::int from made";

    [Fact]
    public async Task Should_commit_concurrent_statements_in_fewer_round_trips_and_answer_each_caller()
    {
        var table = await TableAsync();
        await using var committer = new GroupCommitter(env.DataSource, "test", new GroupCommitOptions { Writers = 1, MaxBatch = 64 }, Metrics);
        var batches = new List<int>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (i, l) => { if (i.Name == "automations.group_commit.statements") l.EnableMeasurementEvents(i); };
        listener.SetMeasurementEventCallback<int>((_, value, tags, _) =>
        {
            foreach (var t in tags)
                if (t.Key == "name" && (string?)t.Value == "test") lock (batches) batches.Add(value);
        });
        listener.Start();

        // 400 callers at once, 100 of them repeating an id: each learns whether its own row was new.
        var tasks = Enumerable.Range(0, 400).Select(i =>
            committer.ScalarAsync<int>(Insert(table), new StatementParameters().Add("id", i % 300).Add("note", $"n{i}"))).ToArray();
        var inserted = await Task.WhenAll(tasks);

        Assert.Equal(300, inserted.Sum());
        Assert.All(Enumerable.Range(0, 300), i => Assert.Equal(1, inserted[i]));
        Assert.All(Enumerable.Range(300, 100), i => Assert.Equal(0, inserted[i]));
        await using var c = await env.DataSource.OpenConnectionAsync();
        Assert.Equal(300, await c.ExecuteScalarAsync<int>($"select count(*) from public.{table}"));
        lock (batches)
        {
            Assert.Equal(400, batches.Sum());
            Assert.True(batches.Count < 400, $"every statement went alone: {batches.Count} batches");
            Assert.True(batches.Max() <= 64, $"a batch exceeded MaxBatch: {batches.Max()}");
        }
    }

    [Fact]
    public async Task Should_fail_only_the_caller_whose_statement_is_bad()
    {
        var table = await TableAsync();
        await using var committer = new GroupCommitter(env.DataSource, "test-bad", new GroupCommitOptions { Writers = 1 }, Metrics);
        var tasks = Enumerable.Range(0, 50).Select(i => i == 25
            // note is not null: this statement fails in PostgreSQL, and with it the batch it rode in.
            ? committer.ScalarAsync<int>(Insert(table), new StatementParameters().Add("id", i).Add<string?>("note", null))
            : committer.ScalarAsync<int>(Insert(table), new StatementParameters().Add("id", i).Add("note", "ok"))).ToArray();
        try { await Task.WhenAll(tasks); } catch (PostgresException) { }

        var bad = await Assert.ThrowsAsync<PostgresException>(() => tasks[25]);
        Assert.Equal(PostgresErrorCodes.NotNullViolation, bad.SqlState);
        Assert.All(tasks.Where((_, i) => i != 25), t => Assert.Equal(1, t.Result));
        await using var c = await env.DataSource.OpenConnectionAsync();
        Assert.Equal(49, await c.ExecuteScalarAsync<int>($"select count(*) from public.{table}"));
    }

    [Fact]
    public async Task Should_keep_working_after_the_database_drops_its_connection()
    {
        var table = await TableAsync();
        await using var committer = new GroupCommitter(env.DataSource, "test-drop", new GroupCommitOptions { Writers = 1 }, Metrics);
        Assert.Equal(1, await committer.ScalarAsync<int>(Insert(table), new StatementParameters().Add("id", 1).Add("note", "a")));

        // Kill the writer's backend (the one connection whose last statement was this table's insert) and wait until it is gone.
        await using var admin = await env.DataSource.OpenConnectionAsync();
        var writer = await admin.QuerySingleAsync<int>(
            $"select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and query like 'with made as (insert into public.{table} %'");
        Assert.True(await admin.ExecuteScalarAsync<bool>("select pg_terminate_backend(@writer)", new { writer }), $"backend {writer} was not terminated");
        await Eventually.TrueAsync(async () => !await admin.ExecuteScalarAsync<bool>("select exists (select 1 from pg_stat_activity where pid = @writer)", new { writer }),
            $"backend {writer} has exited");

        // The writer's next batch goes to the dead connection: it fails (its caller retries as for any failed write) and
        // nothing of it is committed; the batch after that opens a new connection.
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => committer.ScalarAsync<int>(Insert(table), new StatementParameters().Add("id", 2).Add("note", "b")));
        Assert.Equal(1, await committer.ScalarAsync<int>(Insert(table), new StatementParameters().Add("id", 3).Add("note", "c")));
        Assert.Equal([1, 3], await admin.QueryAsync<int>($"select id from public.{table} order by id"));
        Assert.NotEqual(writer, await admin.QuerySingleAsync<int>(
            $"select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid() and query like 'with made as (insert into public.{table} %'"));
    }

    [Fact]
    public async Task Should_find_rows_by_their_index_with_a_plan_made_while_the_table_was_empty()
    {
        // As a partition is: created empty ahead of its day and not analyzed yet, the statement planned (and its plan
        // kept) while it is empty, the rows arriving after.
        var table = "gc_" + Guid.NewGuid().ToString("N")[..8];
        await using var c = await env.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync($"create table public.{table} (id uuid primary key, note text not null) with (autovacuum_enabled = false)");
        var builder = new NpgsqlDataSourceBuilder(env.PostgresConnectionString);
        builder.ConnectionStringBuilder.MaxAutoPrepare = 16;
        builder.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
        await using var dataSource = builder.Build();
        await using var committer = new GroupCommitter(dataSource, "test-scan", new GroupCommitOptions { Writers = 1 }, Metrics);
        var update = $"""
            with moved as (update public.{table} t set note = v.note from unnest(@ids::uuid[], @notes::text[]) as v(id, note) where t.id = v.id returning 1)
            select count(*)::int from moved
            """;
        StatementParameters Moving(Guid[] ids) => new StatementParameters().Add("ids", ids).Add("notes", ids.Select(_ => "moved").ToArray());
        for (var i = 0; i < 4; i++) Assert.Equal(0, await committer.ScalarAsync<int>(update, Moving([Guid.NewGuid()])));

        var ids = Enumerable.Range(0, 5000).Select(_ => Guid.NewGuid()).ToArray();
        await c.ExecuteAsync($"insert into public.{table} (id, note) select id, 'new' from unnest(@ids) as id", new { ids });
        Assert.Equal(3, await committer.ScalarAsync<int>(update, Moving(ids[..3])));

        // Counted once the writer's backend has reported its statistics (it does within seconds of going idle).
        long seqRead = -1;
        await Eventually.TrueAsync(async () =>
        {
            var stats = await c.QuerySingleAsync<(long Updated, long SeqRead)>(
                "select n_tup_upd, seq_tup_read from pg_stat_user_tables where relid = @table::regclass", new { table = $"public.{table}" });
            seqRead = stats.SeqRead;
            return stats.Updated >= 3;
        }, "the writer reported its updates", TimeSpan.FromSeconds(30));
        Assert.True(seqRead == 0, $"the writer read {seqRead} rows of the table to move 3 rows by id");
    }

    [Fact]
    public async Task Should_not_compile_a_statement_that_must_scan_a_table()
    {
        // As an inbox partition made by hand without its index is: the scan cannot be avoided, and enable_seqscan = off
        // costs it past every JIT threshold. JIT compilation shows in EXPLAIN ANALYZE as a "JIT" section.
        var table = "gc_" + Guid.NewGuid().ToString("N")[..8];
        await using var c = await env.DataSource.OpenConnectionAsync();
        await c.ExecuteAsync($"create table public.{table} (consumer text not null, message_id uuid not null)");
        await c.ExecuteAsync($"insert into public.{table} select 'c', gen_random_uuid() from generate_series(1, 100)");
        var explain = $"explain (analyze, format json) select exists (select from public.{table} where consumer = 'c' and message_id = gen_random_uuid())";

        if (await c.ExecuteScalarAsync<bool>("select pg_jit_available() and current_setting('jit')::bool"))
        {
            // The setting alone compiles it: the case this guards against happens on this server.
            await using var tx = await c.BeginTransactionAsync();
            await c.ExecuteAsync("set local enable_seqscan = off", transaction: tx);
            Assert.Contains("\"JIT\"", await c.ExecuteScalarAsync<string>(explain, transaction: tx));
        }

        await using var committer = new GroupCommitter(env.DataSource, "test-jit", new GroupCommitOptions { Writers = 1 }, Metrics);
        var plan = await committer.ScalarAsync<string>(explain, new StatementParameters());
        Assert.Contains("\"Seq Scan\"", plan);
        Assert.DoesNotContain("\"JIT\"", plan);
    }

    [Fact]
    public async Task Should_plan_its_statements_once_and_give_back_connections_as_it_took_them()
    {
        string? during;
        await using (var committer = new GroupCommitter(env.DataSource, "test-plans", new GroupCommitOptions { Writers = 1 }, Metrics))
            during = await committer.ScalarAsync<string>("select current_setting('plan_cache_mode') || ' ' || current_setting('enable_seqscan') || ' ' || current_setting('jit')", new StatementParameters());
        Assert.Equal("force_generic_plan off off", during);

        // The stopped writer's connection went back to the pool: whoever takes it next plans as PostgreSQL chooses.
        var connections = new List<NpgsqlConnection>();
        try
        {
            for (var i = 0; i < 3; i++) connections.Add(await env.DataSource.OpenConnectionAsync());
            foreach (var c in connections)
            {
                Assert.Equal("auto", await c.ExecuteScalarAsync<string>("show plan_cache_mode"));
                Assert.Equal("on", await c.ExecuteScalarAsync<string>("show enable_seqscan"));
                Assert.Equal(await c.ExecuteScalarAsync<string>("select reset_val from pg_settings where name = 'jit'"), await c.ExecuteScalarAsync<string>("show jit"));
            }
        }
        finally
        {
            foreach (var c in connections) await c.DisposeAsync();
        }
    }
}
