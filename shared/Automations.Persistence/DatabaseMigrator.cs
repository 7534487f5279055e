using System.Reflection;
using DbUp;
using DbUp.Engine;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Automations.Persistence;

/// <summary>
/// Applies the SQL scripts of each schema with DbUp, one journal per schema, under a PostgreSQL advisory lock so that
/// several services starting together migrate once. A schema's scripts live beside the service that writes it
/// (services/&lt;Service&gt;/Database/Migrations/, docs/architecture.md "Data"); this assembly embeds them all.
/// </summary>
public static class DatabaseMigrator
{
    /// <summary>Every schema, in dependency order.</summary>
    public static readonly IReadOnlyList<string> AllSchemas = ["control", "ingestion", "rules", "delivery", "launch"];

    private const long AdvisoryLockKey = 0x4175746F6D617465; // "Automate"
    private static readonly Assembly Assembly = typeof(DatabaseMigrator).Assembly;

    public static async Task MigrateAsync(string connectionString, ILogger? logger = null, IEnumerable<string>? schemas = null, CancellationToken ct = default)
    {
        await using var lockConnection = new NpgsqlConnection(connectionString);
        await lockConnection.OpenAsync(ct);
        await using (var cmd = new NpgsqlCommand("select pg_advisory_lock(@k)", lockConnection))
        {
            cmd.Parameters.AddWithValue("k", AdvisoryLockKey);
            cmd.CommandTimeout = 300;
            await cmd.ExecuteNonQueryAsync(ct);
        }
        try
        {
            foreach (var schema in schemas ?? AllSchemas)
            {
                var scripts = ScriptsFor(schema);
                if (scripts.Count == 0) continue;
                await using (var create = new NpgsqlCommand($"create schema if not exists {schema}", lockConnection))
                    await create.ExecuteNonQueryAsync(ct);

                var upgrader = DeployChanges.To
                    .PostgresqlDatabase(connectionString)
                    .WithScripts(scripts)
                    .JournalToPostgresqlTable(schema, "schema_versions")
                    .WithTransactionPerScript()
                    // Scripts use dollar quoting ($body$ ... $body$), which DbUp would read as its variables; the
                    // templates' $schema$ is filled in by ScriptsFor.
                    .WithVariablesDisabled()
                    .LogTo(new DbUpLog(logger))
                    .Build();
                var result = upgrader.PerformUpgrade();
                if (!result.Successful)
                    throw new InvalidOperationException($"Migration of schema '{schema}' failed at {result.ErrorScript?.Name}: {result.Error?.Message}", result.Error);
            }
        }
        finally
        {
            await using var unlock = new NpgsqlCommand("select pg_advisory_unlock(@k)", lockConnection);
            unlock.Parameters.AddWithValue("k", AdvisoryLockKey);
            await unlock.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }

    /// <summary>
    /// The scripts of <paramref name="schema"/> under the names its journal records: the schema's own by file name
    /// (<c>0001_base.sql</c>), the outbox/inbox templates as <c>_common.</c> + file name, with <c>$schema$</c> filled in.
    /// None when the schema has no scripts of its own.
    /// </summary>
    internal static List<SqlScript> ScriptsFor(string schema)
    {
        var own = Embedded($"migrations/{schema}/").Select(s => new SqlScript(s.Name, s.Text)).ToList();
        if (own.Count == 0) return own;
        var common = Embedded("migrations/_common/")
            .Select(s => new SqlScript("_common." + s.Name, s.Text.Replace("$schema$", schema, StringComparison.Ordinal)));
        return [.. common, .. own];
    }

    private static IEnumerable<(string Name, string Text)> Embedded(string folder) =>
        Assembly.GetManifestResourceNames()
            .Where(n => n.StartsWith(folder, StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .Select(n => (n[folder.Length..], Read(n)));

    private static string Read(string resource)
    {
        using var stream = Assembly.GetManifestResourceStream(resource)!;
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private sealed class DbUpLog(ILogger? logger) : DbUp.Engine.Output.IUpgradeLog
    {
        public void LogTrace(string format, params object[] args) { }
        public void LogDebug(string format, params object[] args) { }
        public void LogInformation(string format, params object[] args) => logger?.LogInformation("migrate: {Message}", string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args));
        public void LogWarning(string format, params object[] args) => logger?.LogWarning("migrate: {Message}", string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args));
        public void LogError(string format, params object[] args) => logger?.LogError("migrate: {Message}", string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args));
        public void LogError(Exception ex, string format, params object[] args) => logger?.LogError(ex, "migrate: {Message}", string.Format(System.Globalization.CultureInfo.InvariantCulture, format, args));
    }
}
