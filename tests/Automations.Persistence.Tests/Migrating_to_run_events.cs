using Dapper;
using Npgsql;

namespace Automations.Persistence.Tests;

/// <summary>
/// A deployment with artifact events and automations upgrades to run events: its rows stay as they were and keep
/// their meaning, and run events and run automations can be written next to them.
/// </summary>
public class Migrating_to_run_events() : OldLayoutDatabase("run_events")
{
    [Fact]
    public async Task Should_keep_stored_events_and_take_run_events()
    {
        await MigrateUpToAsync("ingestion", s => s.Name != "0004_run_events.sql");
        await using var db = new NpgsqlConnection(ConnectionString);
        await db.OpenAsync();
        await db.ExecuteAsync("""
            insert into ingestion.events (id, entity, event_id, event_type, project, collection, occurred_at, received_at, source)
            select gen_random_uuid(), 'acme', 'e' || g, 'CREATE_ARTIFACT', 'p', 'c', now(), now() - g * interval '1 minute', 'http'
            from generate_series(1, 1000) g
            """);

        await DatabaseMigrator.MigrateAsync(ConnectionString, schemas: ["ingestion"]);

        Assert.Equal(1000, await db.ExecuteScalarAsync<int>("select count(*) from ingestion.events where collection = 'c' and run_id is null"));
        await db.ExecuteAsync("""
            insert into ingestion.events (id, entity, event_id, event_type, project, occurred_at, received_at, source, run_id, run_state, step, metrics)
            values (gen_random_uuid(), 'acme', 'r1', 'RUN_METRIC', 'p', now(), now(), 'http', 'run1', null, 7, '{"loss": 0.5}')
            """);
        // The dedupe key is shared: a run event with an artifact event's eventId is no second row.
        await db.ExecuteAsync("""
            insert into ingestion.events (id, entity, event_id, event_type, project, occurred_at, received_at, source, run_id, run_state)
            values (gen_random_uuid(), 'acme', 'e1', 'RUN_STATE', 'p', now(), now() - interval '1 minute', 'http', 'run1', 'running') on conflict do nothing
            """);
        Assert.Equal(1001, await db.ExecuteScalarAsync<int>("select count(*) from ingestion.events"));
    }

    [Fact]
    public async Task Should_keep_stored_automations_and_take_run_automations()
    {
        await MigrateUpToAsync("control", s => s.Name != "0004_run_automations.sql");
        await using var db = new NpgsqlConnection(ConnectionString);
        await db.OpenAsync();
        var entity = Guid.NewGuid();
        await db.ExecuteAsync("insert into control.entities (id, name) values (@entity, 'acme')", new { entity });
        await db.ExecuteAsync("""
            insert into control.automations (id, entity_id, project, name, event_type, collection, alias_regex, action_type, payload)
            values (gen_random_uuid(), @entity, 'p', 'old', 'ADD_ARTIFACT_ALIAS', 'c', 'prod.*', 'webhook', '{}')
            """, new { entity });

        await DatabaseMigrator.MigrateAsync(ConnectionString, schemas: ["control"]);

        var old = await db.QuerySingleAsync<(string EventType, string AliasRegex, string? RunFilter)>(
            "select event_type, alias_regex, run_filter::text from control.automations where name = 'old'");
        Assert.Equal(("ADD_ARTIFACT_ALIAS", "prod.*"), (old.EventType, old.AliasRegex));
        Assert.Null(old.RunFilter);
        await db.ExecuteAsync("""
            insert into control.automations (id, entity_id, project, name, event_type, action_type, payload, run_filter)
            values (gen_random_uuid(), @entity, 'p', 'on-finish', 'RUN_STATE', 'webhook', '{}', '{"state":"finished"}')
            """, new { entity });
        var refused = await Assert.ThrowsAsync<PostgresException>(() => db.ExecuteAsync("""
            insert into control.automations (id, entity_id, project, name, event_type, action_type, payload)
            values (gen_random_uuid(), @entity, 'p', 'bad', 'RUN_PAUSED', 'webhook', '{}')
            """, new { entity }));
        Assert.Equal(PostgresErrorCodes.CheckViolation, refused.SqlState);
    }

    [Fact]
    public async Task Should_add_the_run_state_tables_beside_existing_runs()
    {
        // 0007 keys the windows 0005 creates by project: not part of a layout from before 0005.
        await MigrateUpToAsync("rules", s => s.Name is not ("0005_run_state.sql" or "0007_metric_windows_per_project.sql"));
        await DatabaseMigrator.MigrateAsync(ConnectionString, schemas: ["rules"]);
        await using var db = new NpgsqlConnection(ConnectionString);
        await db.OpenAsync();
        await db.ExecuteAsync("""
            insert into rules.run_metric_windows (automation_id, run_id, metric, entity, project, steps, vals, active)
            values (gen_random_uuid(), 'run1', 'loss', 'acme', 'p', '{1,2}', '{0.5,0.4}', false)
            """);
        Assert.Equal(1, await db.ExecuteScalarAsync<int>("select count(*) from rules.run_metric_windows"));
    }
}
