using System.Diagnostics.Metrics;
using Automations.Persistence.GroupCommit;
using Automations.Persistence.Writes;
using Automations.Testing;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;

namespace Automations.Persistence.Tests;

/// <summary>
/// The group-commit queue is bounded (GroupCommit:QueueLimit): when the writers fall behind, callers past the limit
/// wait for room, holding their request or broker message, instead of piling statements up in memory. Nothing is
/// dropped: once the writers move again every caller gets its answer.
/// </summary>
public class Filling_the_group_commit_queue(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    private readonly IMeterFactory _meters = new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>();

    [Fact]
    public async Task Should_make_callers_wait_for_room_and_then_answer_every_one()
    {
        var table = "gq_" + Guid.NewGuid().ToString("N")[..8];
        var lockKey = Random.Shared.NextInt64();
        await using var admin = await env.DataSource.OpenConnectionAsync();
        await admin.ExecuteAsync($"create table public.{table} (id int primary key)");
        // The writer's first statement waits for this lock: the writer is stuck and the queue fills.
        await admin.ExecuteAsync("select pg_advisory_lock(@lockKey)", new { lockKey });

        using var queue = new MetricCollector<int>(_meters, "Automations", "automations.group_commit.queue");
        await using var committer = new GroupCommitter(env.DataSource, "test-full", new GroupCommitOptions { Writers = 1, MaxBatch = 1, QueueLimit = 2 },
            new WritesMetrics(_meters));
        var blocker = committer.ScalarAsync<int>("select 1 from (select pg_advisory_xact_lock(@lockKey)) held", new StatementParameters().Add("lockKey", lockKey));
        await Eventually.TrueAsync(async () => await admin.ExecuteScalarAsync<bool>(
            "select exists (select 1 from pg_locks l join pg_database d on d.oid = l.database where l.locktype = 'advisory' and not l.granted and d.datname = current_database())"), "the writer waits for the lock");

        var callers = Enumerable.Range(0, 10).Select(i =>
            committer.ScalarAsync<int>($"insert into public.{table} (id) values (@id) returning id", new StatementParameters().Add("id", i))).ToArray();
        using var cancelled = new CancellationTokenSource();
        var leaving = committer.ScalarAsync<int>($"insert into public.{table} (id) values (100) returning id", new StatementParameters(), cancelled.Token);

        // Two statements queued, the other nine callers waiting for room: the queue never holds more than its limit.
        queue.RecordObservableInstruments();
        Assert.Equal(2, Assert.Single(queue.GetMeasurementSnapshot(), m => (string?)m.Tags["name"] == "test-full").Value);
        Assert.All(callers, c => Assert.False(c.IsCompleted));
        // A caller that gives up while it waits for room leaves, and its statement never runs.
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => leaving);

        await admin.ExecuteAsync("select pg_advisory_unlock(@lockKey)", new { lockKey });
        Assert.Equal(1, await blocker);
        Assert.Equal(Enumerable.Range(0, 10), await Task.WhenAll(callers));
        Assert.Equal(Enumerable.Range(0, 10), await admin.QueryAsync<int>($"select id from public.{table} order by id"));
    }
}
