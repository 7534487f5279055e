using System.Collections.Concurrent;
using Automations.Persistence.Control;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.WebhookSender.Alerts;

/// <summary>Configuration section "Alerts": the thresholds of a team that has saved none (PUT /v1/entities/{e}/alerts).</summary>
public sealed class AlertOptions
{
    /// <summary>An incident opens when this many deliveries in a row failed every attempt.</summary>
    public int ConsecutiveFailures { get; set; } = 5;
    /// <summary>... or when no attempt succeeded for this long.</summary>
    public TimeSpan FailingFor { get; set; } = TimeSpan.FromHours(6);
    /// <summary>The webhook is disabled when no attempt succeeded for this long (Svix's 5 days).</summary>
    public TimeSpan DisableAfter { get; set; } = TimeSpan.FromDays(5);
}

/// <summary>A team's thresholds and where its alerts go (null: nowhere; the incident is still recorded and listed).</summary>
public sealed record AlertSettings(int ConsecutiveFailures, TimeSpan FailingFor, TimeSpan DisableAfter, Guid? ChannelWebhookId);

/// <summary>
/// The teams' alert settings, read from control (owned by the Api) and kept for Webhooks:ControlCacheTtl, as webhooks
/// are: a change in the Api reaches the sender within it. Read on a failed attempt and for an alert, never on a success.
/// </summary>
public sealed class AlertSettingsDirectory(NpgsqlDataSource dataSource, IOptions<AlertOptions> alertOptions, IOptions<WebhookOptions> webhookOptions)
{
    private readonly ConcurrentDictionary<string, (AlertSettings Settings, long Expires)> _known = new(StringComparer.Ordinal);
    private readonly long _ttlMs = (long)webhookOptions.Value.ControlCacheTtl.TotalMilliseconds;

    public AlertSettings Defaults => new(alertOptions.Value.ConsecutiveFailures, alertOptions.Value.FailingFor, alertOptions.Value.DisableAfter, null);

    public async Task<AlertSettings> FindAsync(string entity, CancellationToken ct)
    {
        if (_known.TryGetValue(entity, out var known) && known.Expires > Environment.TickCount64) return known.Settings;
        AlertSettingsRow? row;
        await using (var connection = await dataSource.OpenConnectionAsync(ct))
            row = await AlertSettingsQueries.FindAsync(connection, entity, ct);
        var settings = row is null ? Defaults : new AlertSettings(row.ConsecutiveFailures, row.FailingFor, row.DisableAfter, row.ChannelWebhookId);
        if (_known.Count > 10_000) _known.Clear();
        _known[entity] = (settings, Environment.TickCount64 + _ttlMs);
        return settings;
    }
}
