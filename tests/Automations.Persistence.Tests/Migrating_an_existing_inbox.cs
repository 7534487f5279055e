using Automations.Persistence.Retention;
using Automations.Testing;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace Automations.Persistence.Tests;

/// <summary>A database migrated before the inbox was partitioned: its marks stay, as the first partition, and still stop copies.</summary>
public class Migrating_an_existing_inbox() : OldLayoutDatabase("old_inbox")
{
    [Fact]
    public async Task Should_keep_its_marks_as_the_first_partition_and_still_stop_copies()
    {
        // The rules schema as deployed before: the outbox/inbox scripts up to 0002, under the same journal.
        string[] old = ["_common.0000_outbox_inbox.sql", "_common.0001_outbox_direct.sql", "_common.0002_outbox_body_json.sql"];
        await MigrateUpToAsync("rules", s => old.Contains(s.Name));
        await using var db = new NpgsqlConnection(ConnectionString);
        await db.OpenAsync();
        var ids = (await db.QueryAsync<Guid>("""
            insert into rules.inbox (consumer, message_id, processed_at)
            select 'rules-artifact-events', gen_random_uuid(), now() - g * interval '1 minute' from generate_series(1, 5000) g
            returning message_id
            """)).AsList();

        await DatabaseMigrator.MigrateAsync(ConnectionString, schemas: ["rules"]);

        Assert.Equal("p", await db.ExecuteScalarAsync<string>("select relkind::text from pg_class where oid = 'rules.inbox'::regclass"));
        Assert.Equal(5000, await db.ExecuteScalarAsync<int>("select count(*) from rules.inbox where tableoid = 'rules.inbox_before_partitioning'::regclass"));

        // With the partitions ahead created, a copy of a message marked before the migration is still a duplicate, and
        // a new message lands in a partition of its own.
        await using var dataSource = NpgsqlDataSource.Create(ConnectionString);
        var table = Inbox.Inbox.Table("rules");
        var o = new RetentionOptions();
        var rotation = await new PartitionMaintenance(dataSource, [table], new FixedOptions<RetentionOptions>(o), NullLogger<PartitionMaintenance>.Instance)
            .RotateAsync(table, o, CancellationToken.None);
        Assert.Equal(0, rotation!.Dropped);
        Assert.False(await MarkAsync(dataSource, ids[0]));
        Assert.False(await MarkAsync(dataSource, ids[^1]));
        var fresh = Guid.NewGuid();
        Assert.True(await MarkAsync(dataSource, fresh));
        Assert.Equal(5001, await db.ExecuteScalarAsync<int>("select count(*) from rules.inbox"));
        Assert.StartsWith("rules.inbox_p", await db.ExecuteScalarAsync<string>("select tableoid::regclass::text from rules.inbox where message_id = @fresh", new { fresh }));
    }

    private static async Task<bool> MarkAsync(NpgsqlDataSource dataSource, Guid messageId)
    {
        await using var c = await dataSource.OpenConnectionAsync();
        await using var tx = await c.BeginTransactionAsync();
        var isNew = await Inbox.Inbox.TryBeginAsync(c, tx, "rules", "rules-artifact-events", messageId);
        await tx.CommitAsync();
        return isNew;
    }
}
