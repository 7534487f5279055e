using Automations.Testing;
using Dapper;
using Npgsql;

namespace Automations.Persistence.Tests;

/// <summary>A database migrated before events were partitioned: its rows stay, as the first partition, and still dedupe.</summary>
public class Migrating_an_existing_events_table() : OldLayoutDatabase("old_layout")
{
    [Fact]
    public async Task Should_keep_its_rows_as_the_first_partition()
    {
        // The ingestion schema as deployed before: every script up to 0001_events.sql, under the same journal.
        await MigrateUpToAsync("ingestion", s => s.Name.StartsWith("_common.", StringComparison.Ordinal) || s.Name == "0001_events.sql");
        await using var db = new NpgsqlConnection(ConnectionString);
        await db.OpenAsync();
        await db.ExecuteAsync("""
            insert into ingestion.events (id, entity, event_id, event_type, project, collection, occurred_at, received_at, source)
            select gen_random_uuid(), 'acme', 'e' || g, 'CREATE_ARTIFACT', 'p', 'c', now(), now() - g * interval '1 minute', 'http'
            from generate_series(1, 5000) g
            """);

        await DatabaseMigrator.MigrateAsync(ConnectionString, schemas: ["ingestion"]);

        Assert.Equal("p", await db.ExecuteScalarAsync<string>("select relkind::text from pg_class where oid = 'ingestion.events'::regclass"));
        Assert.Equal(5000, await db.ExecuteScalarAsync<int>("select count(*) from ingestion.events where tableoid = 'ingestion.events_before_partitioning'::regclass"));
        // Its unique key still holds inside its partition: the same (entity, event_id) again is no second row.
        await db.ExecuteAsync("""
            insert into ingestion.events (id, entity, event_id, event_type, project, collection, occurred_at, received_at, source)
            values (gen_random_uuid(), 'acme', 'e1', 'CREATE_ARTIFACT', 'p', 'c', now(), now() - interval '1 minute', 'http') on conflict do nothing
            """);
        Assert.Equal(5000, await db.ExecuteScalarAsync<int>("select count(*) from ingestion.events"));
    }
}
