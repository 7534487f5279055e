using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.Persistence.GroupCommit;

public static class GroupCommitExtensions
{
    /// <summary>A <see cref="GroupCommitter"/> keyed by <paramref name="schema"/> (options from the `GroupCommit` section).</summary>
    public static IServiceCollection AddGroupCommit(this IServiceCollection services, string schema)
    {
        services.AddOptions<GroupCommitOptions>().BindConfiguration("GroupCommit");
        services.AddKeyedSingleton(schema, (sp, _) => new GroupCommitter(
            sp.GetRequiredService<NpgsqlDataSource>(), schema, sp.GetRequiredService<IOptions<GroupCommitOptions>>().Value));
        return services;
    }
}
