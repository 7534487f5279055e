using Dapper;
using Npgsql;

namespace Automations.Persistence.Tests;

/// <summary>
/// A deployment with project automations (and run automations' metric windows) upgrades to team automations: every row
/// stays a project automation of its project, and team automations can be written next to them.
/// </summary>
public class Migrating_to_team_automations() : OldLayoutDatabase("team_scope")
{
    [Fact]
    public async Task Should_keep_project_automations_and_take_team_automations()
    {
        await MigrateUpToAsync("control", s => s.Name != "0005_team_automations.sql");
        await using var db = new NpgsqlConnection(ConnectionString);
        await db.OpenAsync();
        var entity = Guid.NewGuid();
        await db.ExecuteAsync("insert into control.entities (id, name) values (@entity, 'acme')", new { entity });
        await db.ExecuteAsync("""
            insert into control.automations (id, entity_id, project, name, event_type, collection, alias_regex, action_type, payload, enabled)
            select gen_random_uuid(), @entity, 'p' || (g % 10), 'a' || g, 'ADD_ARTIFACT_ALIAS', 'c', '^(?:prod)$', 'webhook', '{}', g % 3 <> 0
            from generate_series(1, 500) g
            """, new { entity });

        await DatabaseMigrator.MigrateAsync(ConnectionString, schemas: ["control"]);

        Assert.Equal(500, await db.ExecuteScalarAsync<int>(
            "select count(*) from control.automations where scope = 'project' and project like 'p%' and project_regex is null and alias_regex = '^(?:prod)$'"));
        Assert.Equal(334, await db.ExecuteScalarAsync<int>("select count(*) from control.automations where enabled"));

        // A team automation: no project; its name unique in the entity, apart from project automations' names.
        const string team = """
            insert into control.automations (id, entity_id, project, scope, project_regex, name, event_type, collection, action_type)
            values (gen_random_uuid(), @entity, null, 'team', '^prod-', @name, 'CREATE_ARTIFACT', 'c', 'no_op')
            """;
        await db.ExecuteAsync(team, new { entity, name = "a1" });
        var duplicate = await Assert.ThrowsAsync<PostgresException>(() => db.ExecuteAsync(team, new { entity, name = "a1" }));
        Assert.Equal(PostgresErrorCodes.UniqueViolation, duplicate.SqlState);

        foreach (var bad in new[]
        {
            // A project automation keeps a project and has no project regex; a team automation has no project.
            "insert into control.automations (id, entity_id, project, name, event_type, action_type) values (gen_random_uuid(), @entity, null, 'np', 'CREATE_ARTIFACT', 'no_op')",
            "insert into control.automations (id, entity_id, project, project_regex, name, event_type, action_type) values (gen_random_uuid(), @entity, 'p', 'x', 'rx', 'CREATE_ARTIFACT', 'no_op')",
            "insert into control.automations (id, entity_id, project, scope, name, event_type, action_type) values (gen_random_uuid(), @entity, 'p', 'team', 'tp', 'CREATE_ARTIFACT', 'no_op')",
            "insert into control.automations (id, entity_id, project, scope, name, event_type, action_type) values (gen_random_uuid(), @entity, 'p', 'org', 'op', 'CREATE_ARTIFACT', 'no_op')",
        })
        {
            var refused = await Assert.ThrowsAsync<PostgresException>(() => db.ExecuteAsync(bad, new { entity }));
            Assert.Equal(PostgresErrorCodes.CheckViolation, refused.SqlState);
        }
    }

    [Fact]
    public async Task Should_keep_metric_windows_and_key_them_by_project()
    {
        await MigrateUpToAsync("rules", s => s.Name != "0007_metric_windows_per_project.sql");
        await using var db = new NpgsqlConnection(ConnectionString);
        await db.OpenAsync();
        var automation = Guid.NewGuid();
        await db.ExecuteAsync("""
            insert into rules.run_metric_windows (automation_id, run_id, metric, entity, project, steps, vals, active)
            select @automation, 'run' || g, 'loss', 'acme', 'p', '{1,2}', '{0.5,0.4}', g % 2 = 0 from generate_series(1, 200) g
            """, new { automation });

        await DatabaseMigrator.MigrateAsync(ConnectionString, schemas: ["rules"]);

        Assert.Equal(200, await db.ExecuteScalarAsync<int>(
            "select count(*) from rules.run_metric_windows where automation_id = @automation and steps = '{1,2}' and project = 'p'", new { automation }));
        // The same run id and metric in another project is another window; in the same project, the same one.
        const string insert = """
            insert into rules.run_metric_windows (automation_id, run_id, metric, entity, project, steps, vals, active)
            values (@automation, 'run1', 'loss', 'acme', @project, '{}', '{}', false) on conflict do nothing
            """;
        Assert.Equal(1, await db.ExecuteAsync(insert, new { automation, project = "q" }));
        Assert.Equal(0, await db.ExecuteAsync(insert, new { automation, project = "p" }));
    }
}
