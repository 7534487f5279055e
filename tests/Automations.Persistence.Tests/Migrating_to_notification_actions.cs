using Dapper;
using Npgsql;

namespace Automations.Persistence.Tests;

/// <summary>
/// A deployment with webhooks, automations and runs upgrades to the notification and no-op actions (control 0003,
/// rules 0006): its rows keep their meaning, and the new action types are accepted everywhere a run can land.
/// </summary>
public class Migrating_to_notification_actions() : OldLayoutDatabase("notify_layout")
{
    private static bool Before(DbUp.Engine.SqlScript s, string script) =>
        s.Name.StartsWith("_common.", StringComparison.Ordinal) || string.CompareOrdinal(s.Name, script) < 0;

    [Fact]
    public async Task Should_keep_existing_webhooks_and_automations_as_they_were()
    {
        await MigrateUpToAsync("control", s => Before(s, "0003_"));
        await using var db = new NpgsqlConnection(ConnectionString);
        await db.OpenAsync();
        await db.ExecuteAsync("""
            insert into control.entities (id, name) values ('00000000-0000-0000-0000-00000000000a', 'acme');
            insert into control.webhooks (id, entity_id, name, url) values ('00000000-0000-0000-0000-0000000000b1', '00000000-0000-0000-0000-00000000000a', 'gh', 'https://api.github.com/x');
            insert into control.automations (id, entity_id, project, name, event_type, action_type, webhook_id, payload)
            values ('00000000-0000-0000-0000-0000000000c1', '00000000-0000-0000-0000-00000000000a', 'mnist', 'dispatch', 'CREATE_ARTIFACT', 'webhook',
                    '00000000-0000-0000-0000-0000000000b1', '{"a":"${event_type}"}');
            """);

        await DatabaseMigrator.MigrateAsync(ConnectionString, schemas: ["control"]);

        Assert.Equal(("generic", "https://api.github.com/x"), await db.QuerySingleAsync<(string, string)>("select kind, url from control.webhooks"));
        Assert.Equal(("webhook", """{"a":"${event_type}"}"""), await db.QuerySingleAsync<(string, string)>("select action_type, payload from control.automations"));
        await db.ExecuteAsync("""
            insert into control.automations (id, entity_id, project, name, event_type, action_type)
            values (gen_random_uuid(), '00000000-0000-0000-0000-00000000000a', 'mnist', 'try', 'CREATE_ARTIFACT', 'no_op')
            """);
        // An integration without its encrypted URL cannot exist.
        var refused = await Assert.ThrowsAsync<PostgresException>(() => db.ExecuteAsync(
            "insert into control.webhooks (id, entity_id, name, url, kind) values (gen_random_uuid(), '00000000-0000-0000-0000-00000000000a', 'slack', 'https://hooks.slack.com/********', 'slack')"));
        Assert.Equal(PostgresErrorCodes.CheckViolation, refused.SqlState);
    }

    [Fact]
    public async Task Should_accept_the_new_action_types_in_every_partition_of_runs()
    {
        await MigrateUpToAsync("rules", s => Before(s, "0006_"));
        await using var db = new NpgsqlConnection(ConnectionString);
        await db.OpenAsync();
        const string insert = """
            insert into rules.runs (id, automation_id, automation_name, entity, project, event_id, producer_event_id, event_type, event, action_type,
                                    command_id, status, received_at)
            values (gen_random_uuid(), gen_random_uuid(), 'a', 'acme', 'mnist', gen_random_uuid(), 'e', 'CREATE_ARTIFACT', '{}', @actionType,
                    gen_random_uuid(), 'Finished', @receivedAt)
            """;
        // A run of the layout before partitioning (in runs_before_partitioning), and one of today.
        await db.ExecuteAsync(insert, new { actionType = "webhook", receivedAt = DateTimeOffset.UtcNow.AddYears(-1) });
        await db.ExecuteAsync(insert, new { actionType = "launch", receivedAt = DateTimeOffset.UtcNow });
        // Before: refused, by the table's check and by the old partition's own copy of it (which 0006 must drop too).
        await Assert.ThrowsAsync<PostgresException>(() => db.ExecuteAsync(insert, new { actionType = "no_op", receivedAt = DateTimeOffset.UtcNow.AddYears(-1) }));

        await DatabaseMigrator.MigrateAsync(ConnectionString, schemas: ["rules"]);

        foreach (var actionType in new[] { "no_op", "notification" })
        foreach (var receivedAt in new[] { DateTimeOffset.UtcNow.AddYears(-1), DateTimeOffset.UtcNow })
            await db.ExecuteAsync(insert, new { actionType, receivedAt });
        Assert.Equal(1, await db.ExecuteScalarAsync<int>("select count(*) from rules.runs where action_type = 'webhook' and tableoid = 'rules.runs_before_partitioning'::regclass"));
        Assert.Equal(6, await db.ExecuteScalarAsync<int>("select count(*) from rules.runs"));
        var refused = await Assert.ThrowsAsync<PostgresException>(() => db.ExecuteAsync(insert, new { actionType = "tweet", receivedAt = DateTimeOffset.UtcNow.AddYears(-1) }));
        Assert.Equal(PostgresErrorCodes.CheckViolation, refused.SqlState);
    }
}
