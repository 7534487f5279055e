using Dapper;
using Npgsql;

namespace Automations.Persistence.Control;

public static class EntityQueries
{
    public static async Task<Guid?> FindEntityIdAsync(NpgsqlDataSource dataSource, string name, CancellationToken ct = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<Guid?>(new CommandDefinition(
            "select id from control.entities where name = @name", new { name }, cancellationToken: ct));
    }
}
