using Automations.Persistence.Retention;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.Ingestion.Events;

public sealed class ProjectSummaryOptions
{
    /// <summary>How often the projects' summary takes in new events: how long a new project may be missing from GET /projects.</summary>
    public TimeSpan RefreshEvery { get; set; } = TimeSpan.FromSeconds(10);
}

/// <summary>
/// Keeps ingestion.projects, the projects each team's events named (the Api's project list reads it through the view
/// ingestion.event_projects), with ingestion.refresh_projects (0006_project_summary.sql): one grouped read of the events
/// since the last refresh, never a write per event. Any replica may run it; they take turns.
/// </summary>
public sealed class ProjectSummary(NpgsqlDataSource dataSource, IOptionsMonitor<ProjectSummaryOptions> options, IOptionsMonitor<RetentionOptions> retention,
    ILogger<ProjectSummary> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RefreshAsync(stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Refreshing the projects' summary failed; trying again in {Every}", options.CurrentValue.RefreshEvery);
            }
            await Task.Delay(options.CurrentValue.RefreshEvery, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>One refresh; answers the projects added or moved.</summary>
    public async Task<int> RefreshAsync(CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.ExecuteScalarAsync<int>(new CommandDefinition(
            "select ingestion.refresh_projects(@keep)", new { keep = retention.CurrentValue.History }, cancellationToken: ct));
    }
}
