using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.Persistence.Retention;

public static class RetentionExtensions
{
    /// <summary>
    /// The `Retention` options, and the maintenance of <paramref name="tables"/> (the calling service's own) in this
    /// service: partitions created ahead, old ones dropped.
    /// </summary>
    public static IServiceCollection AddRetention(this IServiceCollection services, params PartitionedTable[] tables)
    {
        services.AddOptions<RetentionOptions>().BindConfiguration("Retention").ValidateOnStart();
        services.AddSingleton<IValidateOptions<RetentionOptions>, Validator>();
        services.AddSingleton(sp => new PartitionMaintenance(sp.GetRequiredService<NpgsqlDataSource>(), tables,
            sp.GetRequiredService<IOptionsMonitor<RetentionOptions>>(), sp.GetRequiredService<ILogger<PartitionMaintenance>>()));
        services.AddHostedService(sp => sp.GetRequiredService<PartitionMaintenance>());
        return services;
    }

    private sealed class Validator : IValidateOptions<RetentionOptions>
    {
        public ValidateOptionsResult Validate(string? name, RetentionOptions options) =>
            options.Problem() is { } problem ? ValidateOptionsResult.Fail(problem) : ValidateOptionsResult.Success;
    }
}
