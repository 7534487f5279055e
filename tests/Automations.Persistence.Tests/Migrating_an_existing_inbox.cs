using Automations.Persistence.Retention;
using Automations.Testing;
using Dapper;
using DbUp;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.Persistence.Tests;

/// <summary>A database migrated before the inbox was partitioned: its marks stay, as the first partition, and still stop copies.</summary>
public class Migrating_an_existing_inbox : IAsyncLifetime
{
    private readonly string _database = $"old_inbox_{Guid.NewGuid():N}"[..24];
    private string _admin = "";
    private string _connectionString = "";

    public async Task InitializeAsync()
    {
        var infrastructure = await Infrastructure.GetAsync();
        _admin = new NpgsqlConnectionStringBuilder(infrastructure.Postgres) { Pooling = false }.ConnectionString;
        await using var admin = new NpgsqlConnection(_admin);
        await admin.OpenAsync();
        await admin.ExecuteAsync($"create database \"{_database}\"");
        _connectionString = new NpgsqlConnectionStringBuilder(infrastructure.Postgres) { Database = _database, Pooling = false }.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        await using var admin = new NpgsqlConnection(_admin);
        await admin.OpenAsync();
        await admin.ExecuteAsync($"drop database if exists \"{_database}\" with (force)");
    }

    [Fact]
    public async Task Should_keep_its_marks_as_the_first_partition_and_still_stop_copies()
    {
        // The rules schema as deployed before: the outbox/inbox scripts up to 0002, under the same journal.
        await using (var c = new NpgsqlConnection(_connectionString))
        {
            await c.OpenAsync();
            await c.ExecuteAsync("create schema rules");
        }
        string[] old = ["_common.0000_outbox_inbox.sql", "_common.0001_outbox_direct.sql", "_common.0002_outbox_body_json.sql"];
        var before = DatabaseMigrator.ScriptsFor("rules").Where(s => old.Contains(s.Name));
        var result = DeployChanges.To.PostgresqlDatabase(_connectionString).WithScripts(before).JournalToPostgresqlTable("rules", "schema_versions")
            .WithTransactionPerScript().WithVariablesDisabled().LogToNowhere().Build().PerformUpgrade();
        Assert.True(result.Successful, result.Error?.Message);
        await using var db = new NpgsqlConnection(_connectionString);
        await db.OpenAsync();
        var ids = (await db.QueryAsync<Guid>("""
            insert into rules.inbox (consumer, message_id, processed_at)
            select 'rules-artifact-events', gen_random_uuid(), now() - g * interval '1 minute' from generate_series(1, 5000) g
            returning message_id
            """)).AsList();

        await DatabaseMigrator.MigrateAsync(_connectionString, schemas: ["rules"]);

        Assert.Equal("p", await db.ExecuteScalarAsync<string>("select relkind::text from pg_class where oid = 'rules.inbox'::regclass"));
        Assert.Equal(5000, await db.ExecuteScalarAsync<int>("select count(*) from rules.inbox where tableoid = 'rules.inbox_before_partitioning'::regclass"));

        // With the partitions ahead created, a copy of a message marked before the migration is still a duplicate, and
        // a new message lands in a partition of its own.
        await using var dataSource = NpgsqlDataSource.Create(_connectionString);
        var table = Inbox.Inbox.Table("rules");
        var o = new RetentionOptions();
        var rotation = await new PartitionMaintenance(dataSource, [table], new StaticOptions(o), NullLogger<PartitionMaintenance>.Instance)
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

    private sealed class StaticOptions(RetentionOptions value) : IOptionsMonitor<RetentionOptions>
    {
        public RetentionOptions CurrentValue => value;
        public RetentionOptions Get(string? name) => value;
        public IDisposable? OnChange(Action<RetentionOptions, string?> listener) => null;
    }
}
