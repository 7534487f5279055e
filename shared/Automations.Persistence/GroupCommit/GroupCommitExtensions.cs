using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace Automations.Persistence.GroupCommit;

public static class GroupCommitExtensions
{
    /// <summary>A <see cref="GroupCommitter"/> keyed by <paramref name="schema"/> (options from the `GroupCommit` section).</summary>
    public static IServiceCollection AddGroupCommit(this IServiceCollection services, string schema)
    {
        services.AddKeyedSingleton(schema, (sp, _) =>
        {
            var options = new GroupCommitOptions();
            sp.GetService<IConfiguration>()?.GetSection("GroupCommit").Bind(options);
            return new GroupCommitter(sp.GetRequiredService<NpgsqlDataSource>(), schema, options);
        });
        return services;
    }
}
