using Automations.Testing;
using Dapper;
using DbUp;
using DbUp.Engine;
using Npgsql;

namespace Automations.Persistence.Tests;

/// <summary>
/// A database of its own, migrated only up to an older layout (some scripts of a schema, under the same journal as a
/// deployment's), so a test can write rows the old way and then run today's migrations over them.
/// </summary>
public abstract class OldLayoutDatabase(string prefix) : IAsyncLifetime
{
    private readonly string _database = $"{prefix}_{Guid.NewGuid():N}"[..24];
    private string _admin = "";

    protected string ConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        var infrastructure = await Infrastructure.GetAsync();
        _admin = new NpgsqlConnectionStringBuilder(infrastructure.Postgres) { Pooling = false }.ConnectionString;
        await using var admin = new NpgsqlConnection(_admin);
        await admin.OpenAsync();
        await admin.ExecuteAsync($"create database \"{_database}\"");
        ConnectionString = new NpgsqlConnectionStringBuilder(infrastructure.Postgres) { Database = _database, Pooling = false }.ConnectionString;
    }

    public async Task DisposeAsync()
    {
        await using var admin = new NpgsqlConnection(_admin);
        await admin.OpenAsync();
        // FORCE may not end an autovacuum worker that just started on the database (42501 for a role that is not a
        // superuser): it ends by itself soon. A database left behind is harmless; a test failed by its cleanup is not.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await admin.ExecuteAsync($"drop database if exists \"{_database}\" with (force)");
                return;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.InsufficientPrivilege || e.SqlState == PostgresErrorCodes.ObjectInUse)
            {
                if (attempt == 10) return;
                await Task.Delay(500);
            }
        }
    }

    /// <summary>Creates <paramref name="schema"/> and runs only its scripts that <paramref name="deployed"/> names.</summary>
    protected async Task MigrateUpToAsync(string schema, Func<SqlScript, bool> deployed)
    {
        await using (var c = new NpgsqlConnection(ConnectionString))
        {
            await c.OpenAsync();
            await c.ExecuteAsync($"create schema {schema}");
        }
        var result = DeployChanges.To.PostgresqlDatabase(ConnectionString).WithScripts(DatabaseMigrator.ScriptsFor(schema).Where(deployed))
            .JournalToPostgresqlTable(schema, "schema_versions").WithTransactionPerScript().WithVariablesDisabled().LogToNowhere().Build().PerformUpgrade();
        Assert.True(result.Successful, result.Error?.Message);
    }
}
