namespace Automations.Core.Templates;

/// <summary>What an automation's action renders from an event's variables: one home for Rules (which sends it) and the Api's preview (which shows it).</summary>
public static class ActionRendering
{
    /// <summary>
    /// A webhook's or a notification's payload, sealed: the event's variables filled in, secret references left for the
    /// sender (<see cref="PayloadTemplate.Render(string, Func{string, string?})"/>). Throws JsonException for a template that is not JSON.
    /// </summary>
    public static string WebhookPayload(string? template, Func<string, string?> variables) => PayloadTemplate.Render(template ?? "{}", variables);

    /// <summary>
    /// A launch job's config overrides, final: they may use the same variables (e.g. the artifact to evaluate), and no
    /// stage after this one fills in secrets, so an unknown `${name}` stays as its text.
    /// </summary>
    public static string LaunchOverrides(string? overrides, Func<string, string?> variables) =>
        PayloadTemplate.RenderFinal(string.IsNullOrEmpty(overrides) ? "{}" : overrides, variables);
}
