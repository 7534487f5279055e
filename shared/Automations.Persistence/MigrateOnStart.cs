using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Automations.Persistence;

public static class MigrateOnStartExtensions
{
    /// <summary>
    /// In Development, or when Database:MigrateOnStart is true, migrates the database (ConnectionStrings:Postgres) as the
    /// host starts. Call right after AddServiceDefaults: hosted services start in order, and the service's own need the schema.
    /// </summary>
    public static IHostApplicationBuilder AddMigrateOnStart(this IHostApplicationBuilder builder)
    {
        if (builder.Environment.IsDevelopment() || builder.Configuration.GetValue("Database:MigrateOnStart", false))
            builder.Services.AddHostedService<MigrateOnStart>();
        return builder;
    }

    private sealed class MigrateOnStart(IConfiguration configuration, ILogger<MigrateOnStart> logger) : IHostedService
    {
        public Task StartAsync(CancellationToken cancellationToken) =>
            DatabaseMigrator.MigrateAsync(configuration.GetConnectionString("Postgres")!, logger, ct: cancellationToken);

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
