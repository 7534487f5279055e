using Automations.Testing;
using Npgsql;

namespace Automations.Persistence.Tests;

/// <summary>
/// Units committed together (one group commit) where one statement fails: the others commit and publish, only the
/// failing caller sees its error, and its outbox row never exists.
/// </summary>
public class Committing_a_batch_with_a_failing_statement(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    [Fact]
    public async Task Should_fail_only_that_caller_and_never_write_its_message()
    {
        // One writer: the units queue behind each other and ride in shared batches.
        await using var host = await UnitHost.StartAsync(env, new Dictionary<string, string?> { ["GroupCommit:Writers"] = "1" });
        var ids = Enumerable.Range(0, 40).Select(_ => Guid.CreateVersion7()).ToList();
        const int bad = 20;
        // note is not null: that unit's statement fails in PostgreSQL, and with it the batch it rode in.
        var units = ids.Select((id, i) => host.ProduceAsync(id, i == bad ? null : "ok")).ToArray();
        try { await Task.WhenAll(units); } catch (PostgresException) { }

        var error = await Assert.ThrowsAsync<PostgresException>(() => units[bad]);
        Assert.Equal(PostgresErrorCodes.NotNullViolation, error.SqlState);
        Assert.All(units.Where((_, i) => i != bad), u => Assert.True(u.Result));

        var good = ids.Where((_, i) => i != bad).ToList();
        await host.AssertExactlyOnceAsync(good);
        Assert.Equal(0, await host.OutboxRowsAsync(ids[bad]));
        Assert.False(host.Deliveries.Seen.ContainsKey(ids[bad]));
    }
}
