using Automations.Console.Api;
using Automations.Console.Session;

namespace Automations.Console.Components.Alerts;

/// <summary>A webhook or a notification integration (Slack, Teams) of the team: an alert channel, and what incidents are of.</summary>
public sealed record Channel(Guid Id, string Name, string Kind, DateTimeOffset? DisabledAt, string DisabledReason)
{
    public bool IsWebhook => Kind is "" or "generic";

    /// <summary>"name · Slack (disabled)": what a drop-down shows.</summary>
    public string Label => $"{Name} · {KindLabel}{(DisabledAt is null ? "" : " (disabled)")}";

    public string KindLabel => Kind switch { "slack" => "Slack", "teams" => "Microsoft Teams", _ => "webhook" };

    /// <summary>The team's webhooks, then its integrations (listed to admins only: a member gets the webhooks alone).</summary>
    public static async Task<List<Channel>?> ListAsync(TeamSession session)
    {
        var webhooks = await session.WebhooksAsync();
        if (!webhooks.Ok) return null;
        var all = webhooks.Items().Select(From).ToList();
        var integrations = await session.IntegrationsAsync();
        if (integrations.Ok) all.AddRange(integrations.Items().Select(From));
        return all;
    }

    private static Channel From(System.Text.Json.JsonElement x) => new(Guid.Parse(ApiAnswer.Str(x, "id")), ApiAnswer.Str(x, "name"),
        ApiAnswer.Str(x, "kind"), ApiAnswer.Time(x, "disabledAt"), ApiAnswer.Str(x, "disabledReason"));
}

/// <summary>The alert settings as the form holds them: text as typed, checked before it goes to the Api.</summary>
public sealed class AlertsForm
{
    public string? Channel { get; set; }
    public string? ConsecutiveFailures { get; set; }
    public string? FailingFor { get; set; }
    public string? DisableAfter { get; set; }

    public Dictionary<string, string> Values => new()
    {
        ["channel"] = Channel ?? "", ["consecutiveFailures"] = ConsecutiveFailures ?? "", ["failingFor"] = FailingFor ?? "", ["disableAfter"] = DisableAfter ?? "",
    };

    public static AlertsForm From(FlashMessage f) => new()
    {
        Channel = f.Value("channel"), ConsecutiveFailures = f.Value("consecutiveFailures"), FailingFor = f.Value("failingFor"), DisableAfter = f.Value("disableAfter"),
    };

    /// <summary>The Api's field names → the form's field ids and labels.</summary>
    public static readonly Dictionary<string, (string, string)> Fields = new()
    {
        ["channel"] = ("alert-channel", "Alert channel"),
        ["consecutiveFailures"] = ("alert-failures", "Consecutive failures"),
        ["failingFor"] = ("alert-failing-for", "Failing for"),
        ["disableAfter"] = ("alert-disable-after", "Disable after"),
    };

    public static readonly (string FieldId, string Property)[] Properties =
    [
        ("alert-channel", nameof(Channel)), ("alert-failures", nameof(ConsecutiveFailures)), ("alert-failing-for", nameof(FailingFor)),
        ("alert-disable-after", nameof(DisableAfter)),
    ];

    /// <summary>The Api names the other fields by their JSON names inside a message ("at least failingFor"): the form's labels instead.</summary>
    public static string InFormWords(string message) =>
        Fields.Where(f => f.Key != "channel").Aggregate(message, (s, f) => s.Replace(f.Key, f.Value.Item2, StringComparison.Ordinal));
}
