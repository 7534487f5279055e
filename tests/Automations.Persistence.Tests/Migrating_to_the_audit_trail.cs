using Dapper;
using Npgsql;

namespace Automations.Persistence.Tests;

/// <summary>
/// A deployment upgrades to the audit trail (control 0007): the control rows it has stay as they were, and the new
/// table is partitioned by time with a default partition, takes entries and refuses to change one.
/// </summary>
public class Migrating_to_the_audit_trail() : OldLayoutDatabase("audit_layout")
{
    [Fact]
    public async Task Should_add_a_partitioned_append_only_table_beside_the_existing_rows()
    {
        await MigrateUpToAsync("control", s => s.Name.StartsWith("_common.", StringComparison.Ordinal) || string.CompareOrdinal(s.Name, "0007_") < 0);
        await using var db = new NpgsqlConnection(ConnectionString);
        await db.OpenAsync();
        await db.ExecuteAsync("""
            insert into control.entities (id, name) values ('00000000-0000-0000-0000-00000000000a', 'acme');
            insert into control.launch_queues (id, entity_id, name) values ('00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-00000000000a', 'gpu');
            """);

        await DatabaseMigrator.MigrateAsync(ConnectionString, schemas: ["control"]);

        Assert.Equal("gpu", await db.ExecuteScalarAsync<string>("select name from control.launch_queues"));
        Assert.Equal("r", await db.ExecuteScalarAsync<string>("select partstrat::text from pg_partitioned_table where partrelid = 'control.audit'::regclass"));
        Assert.Equal(["control.audit_default"], (await db.QueryAsync<string>(
            "select inhrelid::regclass::text from pg_inherits where inhparent = 'control.audit'::regclass")).ToArray());
        await db.ExecuteAsync("""
            insert into control.audit (id, entity_id, actor, kind, action, target_name, after)
            values (gen_random_uuid(), '00000000-0000-0000-0000-00000000000a', 'alice', 'queue', 'create', 'gpu', '{"name":"gpu"}')
            """);
        var refused = await Assert.ThrowsAsync<PostgresException>(() => db.ExecuteAsync("update control.audit set actor = 'mallory'"));
        Assert.Equal(PostgresErrorCodes.RestrictViolation, refused.SqlState);
        Assert.Equal("alice", await db.ExecuteScalarAsync<string>("select actor from control.audit"));
    }
}
