using System.Diagnostics;
using Automations.Contracts;
using Automations.Persistence;
using Automations.Rules;
using Automations.Rules.Matching;
using Dapper;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.Rules.Benchmarks;

/// <summary>
/// Matching cost per event in one project while 10, 1,000 and 100,000 automations exist in other projects of the same
/// entity, against a real PostgreSQL: the cache-miss path (indexed load + compile + filter) and the cached path.
/// Usage: dotnet run -c Release --project tests/Automations.Rules.Benchmarks [-- iterations]
/// (PostgreSQL from AUTOMATIONS_TEST_POSTGRES, as printed by deploy/local/infra.sh --print-env).
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var iterations = args.Length > 0 ? int.Parse(args[0]) : 2000;
        var server = Environment.GetEnvironmentVariable("AUTOMATIONS_TEST_POSTGRES")
            ?? "Host=127.0.0.1;Port=5432;Username=automations;Password=automations;Database=automations;SSL Mode=Disable";
        var database = $"rules_bench_{Environment.ProcessId}";
        var admin = new NpgsqlConnectionStringBuilder(server) { Pooling = false };
        await ExecAsync(admin.ConnectionString, $"create database \"{database}\"");
        var cs = new NpgsqlConnectionStringBuilder(server) { Database = database, MaxPoolSize = 4 }.ConnectionString;
        try
        {
            await DatabaseMigrator.MigrateAsync(cs, schemas: ["control", "rules"]);
            await using var dataSource = NpgsqlDataSource.Create(cs);
            await RunAsync(dataSource, iterations);
        }
        finally
        {
            NpgsqlConnection.ClearAllPools();
            await ExecAsync(admin.ConnectionString, $"drop database if exists \"{database}\" with (force)");
        }
        return 0;
    }

    private static async Task RunAsync(NpgsqlDataSource dataSource, int iterations)
    {
        var entityId = Guid.CreateVersion7();
        await using (var c = await dataSource.OpenConnectionAsync())
        {
            await c.ExecuteAsync("insert into control.entities (id, name) values (@entityId, 'acme')", new { entityId });
            // The measured project: 5 automations, 2 of them fire for the event.
            await c.ExecuteAsync(
                """
                insert into control.automations (id, entity_id, project, name, event_type, collection, alias_regex, action_type, payload)
                values (gen_random_uuid(), @entityId, 'mnist', 'create-eval', 'CREATE_ARTIFACT', 'eval-set', null, 'webhook', '{}'),
                       (gen_random_uuid(), @entityId, 'mnist', 'create-eval-2', 'CREATE_ARTIFACT', 'eval-set', null, 'webhook', '{}'),
                       (gen_random_uuid(), @entityId, 'mnist', 'create-train', 'CREATE_ARTIFACT', 'train-set', null, 'webhook', '{}'),
                       (gen_random_uuid(), @entityId, 'mnist', 'link', 'LINK_ARTIFACT', 'eval-set', null, 'webhook', '{}'),
                       (gen_random_uuid(), @entityId, 'mnist', 'prod', 'ADD_ARTIFACT_ALIAS', null, 'prod.*', 'webhook', '{}')
                """, new { entityId });
        }

        var cache = new AutomationCache(Options.Create(new RulesOptions()), TimeProvider.System, NullLogger<AutomationCache>.Instance);
        var e = new ArtifactEventReceived(Guid.CreateVersion7(), "bench", EventTypes.CreateArtifact, "acme", "mnist", "eval-set", "id", 1, null, null, "jane",
            DateTimeOffset.UtcNow, null, DateTimeOffset.UtcNow);

        Console.WriteLine($"Matching cost per event, project acme/mnist (5 automations, 2 fire), {iterations} events per row, after warm-up");
        Console.WriteLine($"{"other automations",18} | {"cache miss µs (mean / p50 / p99)",34} | {"cached µs (mean / p50)",24} | plan");
        var existing = 0;
        foreach (var target in new[] { 10, 1_000, 100_000 })
        {
            await using (var c = await dataSource.OpenConnectionAsync())
            {
                // Other projects of the same entity, every event type, the same collection names: only the project differs.
                await c.ExecuteAsync(
                    """
                    insert into control.automations (id, entity_id, project, name, event_type, collection, action_type, payload)
                    select gen_random_uuid(), @entityId, 'other-' || (g % 1000), 'auto-' || g,
                           (array['CREATE_ARTIFACT','LINK_ARTIFACT','ADD_ARTIFACT_ALIAS'])[1 + g % 3], 'eval-set', 'webhook', '{}'
                    from generate_series(@from, @to) g
                    """, new { entityId, from = existing + 1, to = target }, commandTimeout: 300);
                await c.ExecuteAsync("analyze control.automations");
                existing = target;
            }
            var plan = await PlanAsync(dataSource);

            var miss = await MeasureAsync(dataSource, iterations, async conn =>
            {
                cache.Invalidate("acme", "mnist");
                var found = cache.Match(await cache.GetAsync(conn, null, "acme", "mnist", CancellationToken.None), e);
                if (found.Count != 2) throw new InvalidOperationException($"expected 2 matches, got {found.Count}");
            });
            var hit = await MeasureAsync(dataSource, iterations * 10, async conn =>
            {
                var found = cache.Match(await cache.GetAsync(conn, null, "acme", "mnist", CancellationToken.None), e);
                if (found.Count != 2) throw new InvalidOperationException($"expected 2 matches, got {found.Count}");
            });
            Console.WriteLine($"{target,18:N0} | {$"{miss.Mean,8:F1} / {miss.P50,8:F1} / {miss.P99,8:F1}",34} | {$"{hit.Mean,8:F2} / {hit.P50,8:F2}",24} | {plan}");
        }
    }

    private sealed record Stats(double Mean, double P50, double P99);

    private static async Task<Stats> MeasureAsync(NpgsqlDataSource dataSource, int iterations, Func<NpgsqlConnection, Task> once)
    {
        await using var conn = await dataSource.OpenConnectionAsync();
        for (var i = 0; i < Math.Min(500, iterations); i++) await once(conn); // warm: JIT, prepared statements, buffers
        var samples = new double[iterations];
        for (var i = 0; i < iterations; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await once(conn);
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }
        Array.Sort(samples);
        return new Stats(samples.Average(), samples[iterations / 2], samples[(int)(iterations * 0.99)]);
    }

    private static async Task<string> PlanAsync(NpgsqlDataSource dataSource)
    {
        await using var c = await dataSource.OpenConnectionAsync();
        var lines = await c.QueryAsync<string>(
            """
            explain select a.id from control.automations a join control.entities e on e.id = a.entity_id
            where e.name = 'acme' and a.project = 'mnist' and a.enabled
            """);
        return string.Join("; ", lines.Where(l => l.Contains("Scan", StringComparison.Ordinal)).Select(l => l.Trim().Split("  (")[0].TrimStart('-', '>', ' ')));
    }

    private static async Task ExecAsync(string cs, string sql)
    {
        await using var c = new NpgsqlConnection(cs);
        await c.OpenAsync();
        await c.ExecuteAsync(sql);
    }
}
