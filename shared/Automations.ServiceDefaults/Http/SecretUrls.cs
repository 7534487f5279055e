namespace Automations.ServiceDefaults.Http;

/// <summary>
/// An outgoing request whose URL is itself a credential (a Slack or Teams incoming webhook) carries its shown form in
/// <see cref="Shown"/>; the HttpClient trace instrumentation writes that in place of the URL (see AddServiceDefaults).
/// </summary>
public static class SecretUrls
{
    public static readonly HttpRequestOptionsKey<string> Shown = new("Automations.ShownUrl");

    /// <summary>Replaces the URL tags of <paramref name="activity"/> when <paramref name="request"/> says its URL is secret.</summary>
    public static void Redact(System.Diagnostics.Activity activity, HttpRequestMessage? request)
    {
        if (request is null || !request.Options.TryGetValue(Shown, out var shown)) return;
        activity.SetTag("url.full", shown);
        if (activity.GetTagItem("url.path") is not null) activity.SetTag("url.path", null);
        if (activity.GetTagItem("url.query") is not null) activity.SetTag("url.query", null);
        if (activity.GetTagItem("http.url") is not null) activity.SetTag("http.url", shown);
    }
}
