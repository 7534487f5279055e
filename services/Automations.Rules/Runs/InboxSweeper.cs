using Automations.Persistence.Inbox;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.Rules.Runs;

/// <summary>Deletes inbox marks older than Rules:InboxRetention, hourly. Runs stay: they are the history and the dedupe key.</summary>
public sealed class InboxSweeper(NpgsqlDataSource dataSource, IOptions<RulesOptions> options, ILogger<InboxSweeper> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromHours(1));
        do
        {
            try
            {
                await using var connection = await dataSource.OpenConnectionAsync(stoppingToken);
                var swept = await Inbox.SweepAsync(connection, Extensions.Schema, options.Value.InboxRetention);
                if (swept > 0) logger.LogInformation("Swept {Count} inbox marks older than {Retention}", swept, options.Value.InboxRetention);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Sweeping the rules inbox failed; next try in an hour");
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
