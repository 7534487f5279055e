namespace Automations.Contracts;

/// <summary>
/// The WebhookSender opened, closed (recovered) or marked disabled an incident of a failing webhook (docs/alerts.md).
/// Published once per change through the delivery outbox; the sender turns it into an alert delivery to the team's
/// alert channel, whose command id is <paramref name="AlertId"/> (so a message delivered twice alerts once).
/// </summary>
/// <param name="Change">opened, recovered or disabled (<see cref="IncidentChanges"/>).</param>
public record WebhookIncidentChanged(
    Guid AlertId,
    Guid IncidentId,
    Guid WebhookId,
    string Entity,
    string Change,
    DateTimeOffset At);

public static class IncidentChanges
{
    public const string Opened = "opened";
    public const string Recovered = "recovered";
    public const string Disabled = "disabled";
}
