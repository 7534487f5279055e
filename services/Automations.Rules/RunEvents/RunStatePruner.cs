using Automations.Persistence.Retention;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.Rules.RunEvents;

/// <summary>
/// Bounds the per-run state: every Retention:CheckEvery, deletes the run states and metric windows untouched for
/// Rules:RunStateRetention, in batches (short transactions, no long lock). Any replica may run it: a row two replicas
/// both delete is deleted once.
/// </summary>
public sealed class RunStatePruner(NpgsqlDataSource dataSource, IOptionsMonitor<RulesOptions> rules, IOptionsMonitor<RetentionOptions> retention,
    ILogger<RunStatePruner> logger) : BackgroundService
{
    public const int Batch = 1000;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await PruneAsync(DateTimeOffset.UtcNow - rules.CurrentValue.RunStateRetention, stoppingToken);
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Pruning run state failed; trying again at the next check");
            }
            await Task.Delay(retention.CurrentValue.CheckEvery, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>Deletes the state last touched before <paramref name="cutoff"/>; answers how many rows went.</summary>
    public async Task<long> PruneAsync(DateTimeOffset cutoff, CancellationToken ct)
    {
        long total = 0;
        foreach (var table in new[] { "rules.run_states", "rules.run_metric_windows" })
        {
            int deleted;
            do
            {
                await using var connection = await dataSource.OpenConnectionAsync(ct);
                deleted = await connection.ExecuteAsync(new CommandDefinition(
                    $"delete from {table} where ctid = any(array(select ctid from {table} where updated_at < @cutoff limit {Batch})) and updated_at < @cutoff",
                    new { cutoff }, cancellationToken: ct));
                total += deleted;
            } while (deleted == Batch && !ct.IsCancellationRequested);
        }
        if (total > 0) logger.LogInformation("Pruned {Rows} run state row(s) untouched since {Cutoff}", total, cutoff);
        return total;
    }
}
