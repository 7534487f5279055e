using Automations.Console.Api;

namespace Automations.Console.Components.Settings;

/// <summary>A webhook as its form holds it: the secret and access token are team secrets chosen by name ("" for none).</summary>
public sealed class WebhookForm
{
    public string? Name { get; set; }
    public string? Url { get; set; }
    public string? Secret { get; set; }
    public string? AccessToken { get; set; }

    public object Body => new { name = Name?.Trim() ?? "", url = Url?.Trim() ?? "", secret = Blank(Secret), accessToken = Blank(AccessToken) };

    /// <summary>What a refused post brings back to fill in again (names and a URL: nothing secret).</summary>
    public Dictionary<string, string> Values => new()
    {
        ["name"] = Name ?? "", ["url"] = Url ?? "", ["secret"] = Secret ?? "", ["accessToken"] = AccessToken ?? "",
    };

    public static WebhookForm From(Session.FlashMessage? f) => new()
    {
        Name = f?.Value("name"), Url = f?.Value("url"), Secret = f?.Value("secret"), AccessToken = f?.Value("accessToken"),
    };

    /// <summary>The Api's field names → the form's field ids and labels.</summary>
    public static readonly Dictionary<string, (string, string)> Fields = new()
    {
        ["name"] = ("webhook-name", "Name"),
        ["url"] = ("webhook-url", "URL"),
        ["secret"] = ("webhook-secret", "Secret"),
        ["accessToken"] = ("webhook-token", "Access token"),
    };

    public static readonly (string FieldId, string Property)[] Properties =
        [("webhook-name", nameof(Name)), ("webhook-url", nameof(Url)), ("webhook-secret", nameof(Secret)), ("webhook-token", nameof(AccessToken))];

    private static string? Blank(string? s) => string.IsNullOrWhiteSpace(s) ? null : s;

    /// <summary>The team's secret names, for the drop-downs (the Api lists them to admins only).</summary>
    public static async Task<List<string>?> SecretNamesAsync(Session.TeamSession session)
    {
        var list = await session.GetAsync("/secrets");
        return list.Ok ? list.Items().Select(x => ApiAnswer.Str(x, "name")).ToList() : null;
    }
}
