using System.Globalization;

namespace Automations.WebhookSender.Alerts;

/// <summary>What recording an attempt needs to move its webhook's health on (docs/alerts.md).</summary>
/// <param name="Settings">the team's thresholds; needed for a failed attempt only (a success reads none).</param>
/// <param name="EnabledSince">
/// the webhook's last update in the Api: the disable window counts from it as well, so a webhook re-enabled by an admin
/// gets a whole window again.
/// </param>
/// <param name="OpenIncident">the webhook's open incident as last read (within Webhooks:ControlCacheTtl).</param>
public sealed record HealthInput(AlertSettings? Settings, DateTimeOffset EnabledSince, Guid? OpenIncident)
{
    public string DisabledReason => Settings is null ? "" : $"no attempt succeeded for more than {Durations.Text(Settings.DisableAfter)}";
}

/// <summary>An alert is a delivery like any other, to the team's alert channel, told apart by its automation id.</summary>
public static class AlertDelivery
{
    /// <summary>No automation made it. Its outcome goes to no run, and it does not count for its channel's health.</summary>
    public static readonly Guid AutomationId = Guid.Empty;

    /// <summary>What the delivery history shows as its project.</summary>
    public const string Project = "alerts";
}

public static class Durations
{
    /// <summary>"5 days", "6 hours", "90 minutes", "30 seconds": the largest unit that divides it.</summary>
    public static string Text(TimeSpan t)
    {
        static string Of(double n, string unit) => $"{n.ToString(CultureInfo.InvariantCulture)} {unit}{(n == 1 ? "" : "s")}";
        if (t.Ticks % TimeSpan.TicksPerDay == 0) return Of(t.TotalDays, "day");
        if (t.Ticks % TimeSpan.TicksPerHour == 0) return Of(t.TotalHours, "hour");
        if (t.Ticks % TimeSpan.TicksPerMinute == 0) return Of(t.TotalMinutes, "minute");
        return Of(Math.Round(t.TotalSeconds, 3), "second");
    }
}
