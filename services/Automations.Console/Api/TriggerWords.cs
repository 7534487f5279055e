namespace Automations.Console.Api;

/// <summary>
/// What a trigger, an action and a run's state are called on every page (W&amp;B's words): the Api's names
/// (CREATE_ARTIFACT, webhook, Enqueued…) never reach a page on their own. One place, so the list, the automation page
/// and the wizard say the same.
/// </summary>
public static class TriggerWords
{
    /// <summary>The event types an automation may trigger on, in the order the wizard offers them.</summary>
    public static readonly IReadOnlyList<(string Type, string Words)> Triggers =
    [
        ("CREATE_ARTIFACT", "A new version is added to a collection"),
        ("LINK_ARTIFACT", "A version is linked to a collection"),
        ("ADD_ARTIFACT_ALIAS", "An alias is added"),
        ("RUN_STATE", "A run enters a state"),
        ("RUN_METRIC_THRESHOLD", "A run metric crosses a threshold"),
        ("RUN_METRIC_CHANGE", "A run metric changes"),
    ];

    /// <summary>The trigger in words; an unknown type (a newer Api) says so rather than showing the raw name alone.</summary>
    public static string Trigger(string? type) =>
        Triggers.FirstOrDefault(t => t.Type == type).Words ?? (string.IsNullOrEmpty(type) ? "" : $"Another event ({type})");

    /// <summary>An event that happened (a run's event), as the producer named it: artifact events, and the run events RUN_STATE / RUN_METRIC.</summary>
    public static string Event(string? type) => type switch
    {
        "RUN_METRIC" => "A run logged a metric",
        _ => Trigger(type),
    };

    public static string Action(string? type) => type switch
    {
        "webhook" => "Webhook",
        "launch" => "Jobs (Launch)",
        "notification" => "Slack or Teams notification",
        "no_op" => "Do nothing",
        null or "" => "",
        _ => type,
    };

    /// <summary>A run's states (Rules): a webhook run is finished when its delivery succeeded and failed when it failed.</summary>
    public static readonly IReadOnlyList<(string Status, string Words)> RunStatuses =
    [
        ("Pending", "Waiting"),
        ("Enqueued", "Sent, waiting for the outcome"),
        ("Finished", "Succeeded"),
        ("Failed", "Failed"),
    ];

    public static string RunStatus(string? status) => RunStatuses.FirstOrDefault(s => s.Status == status).Words ?? status ?? "";

    public static string Delivery(string? status) => status switch
    {
        "pending" => "Retrying",
        "succeeded" => "Delivered",
        "failed" => "Failed",
        _ => status ?? "",
    };
}
