namespace Automations.Rules.Runs;

/// <summary>An automation's action_type (control.automations and rules.runs).</summary>
public static class ActionTypes
{
    public const string Webhook = "webhook";
    public const string Launch = "launch";
    /// <summary>W&amp;B's DoNothing: a run is recorded, Finished, and nothing is sent.</summary>
    public const string NoOp = "no_op";
    /// <summary>W&amp;B's SendNotification: title, text and severity to a Slack or Teams integration.</summary>
    public const string Notification = "notification";
}
