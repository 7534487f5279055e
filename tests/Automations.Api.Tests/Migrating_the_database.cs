using Automations.Persistence;
using Automations.Testing;
using Dapper;

namespace Automations.Api.Tests;

/// <summary>
/// Each schema's scripts live beside the service that writes it and are embedded by path; DbUp knows a script by the
/// name in its schema's journal, so a script whose name changed would run again on every deployed database.
/// </summary>
public class Migrating_the_database(TestEnvironment env) : IClassFixture<TestEnvironment>
{
    /// <summary>The journals of a database migrated before the scripts moved beside their services (read from one).</summary>
    private static readonly Dictionary<string, string[]> Recorded = new()
    {
        ["control"] = ["0001_base.sql", .. Common],
        ["ingestion"] = ["0001_events.sql", .. Common],
        ["rules"] = ["0001_runs.sql", "0002_runs_fillfactor.sql", .. Common],
        ["delivery"] = ["0001_deliveries.sql", "0002_sealed_payloads.sql", "0003_masked_responses.sql", .. Common],
        ["launch"] = ["0001_queue_items.sql", "0002_traceparent.sql", .. Common],
    };

    private static string[] Common => ["_common.0000_outbox_inbox.sql", "_common.0001_outbox_direct.sql", "_common.0002_outbox_body_json.sql"];

    private async Task<Dictionary<string, List<string>>> JournalsAsync()
    {
        await using var connection = await env.DataSource.OpenConnectionAsync();
        var journals = new Dictionary<string, List<string>>();
        foreach (var schema in DatabaseMigrator.AllSchemas)
            journals[schema] = (await connection.QueryAsync<string>($"select scriptname from {schema}.schema_versions order by schemaversionsid")).AsList();
        return journals;
    }

    [Fact]
    public async Task Should_record_every_script_under_the_name_existing_databases_have()
    {
        var journals = await JournalsAsync();
        Assert.Equal(Recorded.Keys.Order(), journals.Keys.Order());
        foreach (var (schema, names) in Recorded)
            Assert.True(names.All(journals[schema].Contains), $"{schema}: journal [{string.Join(", ", journals[schema])}] lacks one of [{string.Join(", ", names)}]");
    }

    [Fact]
    public async Task Should_run_nothing_again_on_a_migrated_database()
    {
        var before = await JournalsAsync();
        await DatabaseMigrator.MigrateAsync(env.PostgresConnectionString);
        var after = await JournalsAsync();
        foreach (var schema in DatabaseMigrator.AllSchemas)
            Assert.Equal(before[schema], after[schema]);
    }
}
