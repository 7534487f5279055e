using Automations.Core.Validation;
using Automations.Persistence;
using Automations.Persistence.Control;
using Npgsql;

namespace Automations.Api;

/// <summary>
/// One-shot commands of the control plane: `migrate` (every schema, under the advisory lock; the compose and Kubernetes
/// migration step), `bootstrap --entity NAME --user NAME` (the first team, its admin and an admin key, printed once) and
/// `rotate-secrets` (re-encrypt every team secret under Secrets:ActiveKeyId; the Api also does it at start).
/// </summary>
public static class Commands
{
    public static bool IsCommand(string arg) => arg is "migrate" or "bootstrap" or "rotate-secrets";

    public static async Task<int> RunAsync(string[] args)
    {
        var configuration = new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddEnvironmentVariables()
            .AddCommandLine(args.Skip(1).Where(a => a.StartsWith("--ConnectionStrings", StringComparison.Ordinal) || a.StartsWith("--Secrets", StringComparison.Ordinal)).ToArray())
            .Build();
        var connectionString = configuration.GetConnectionString("Postgres");
        if (string.IsNullOrEmpty(connectionString))
        {
            await Console.Error.WriteLineAsync("ConnectionStrings:Postgres is not set");
            return 2;
        }
        // Logs go to stderr: stdout carries only the command's answer (the key, with --quiet).
        using var loggerFactory = LoggerFactory.Create(b => b
            .AddSimpleConsole(o => o.SingleLine = true)
            .AddFilter("migrate", LogLevel.Warning)
            .Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace));
        var logger = loggerFactory.CreateLogger("migrate");
        await DatabaseMigrator.MigrateAsync(connectionString, logger);
        if (args[0] == "migrate") return 0;
        if (args[0] == "rotate-secrets")
        {
            var keys = Secrets.MasterKeys.FromConfiguration(configuration, isDevelopment: false);
            await using var db = NpgsqlDataSource.Create(connectionString);
            var count = await Secrets.SecretRotation.RotateAsync(db, keys.Cipher!, loggerFactory.CreateLogger("rotate-secrets"));
            Console.WriteLine($"re-encrypted {count} secrets under master key {keys.Cipher!.ActiveKeyId}");
            return 0;
        }

        var entity = Option(args, "--entity") ?? "acme";
        var user = Option(args, "--user") ?? "admin";
        // The rules the Api applies: an entity Ingestion refuses would never receive an event.
        if (NameRules.CheckEntity(entity) is { } entityRule)
        {
            await Console.Error.WriteLineAsync($"--entity {entityRule}");
            return 2;
        }
        if (user.Length > Http.Names.MaxLength || !Http.Names.Slug().IsMatch(user))
        {
            await Console.Error.WriteLineAsync("--user may contain letters, digits, '.', '_' and '-' only");
            return 2;
        }
        await using var dataSource = NpgsqlDataSource.Create(connectionString);
        var result = await Bootstrap.CreateEntityWithAdminAsync(dataSource, entity, user);
        if (args.Contains("--quiet"))
        {
            Console.WriteLine(result.ApiKey);
        }
        else
        {
            Console.WriteLine($"entity: {entity} ({(result.EntityCreated ? "created" : "existing")})");
            Console.WriteLine($"admin:  {user}");
            Console.WriteLine($"key:    {result.ApiKey}");
            Console.WriteLine("This key is shown once. It has the scopes api, events:write and queues:agent.");
        }
        return 0;
    }

    private static string? Option(string[] args, string name)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
