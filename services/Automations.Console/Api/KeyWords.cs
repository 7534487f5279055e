namespace Automations.Console.Api;

/// <summary>
/// An API key's scopes as the Api names them (Automations.Core's ApiKeys.Scopes, which the console does not reference)
/// and as the Keys page says them: the raw names never reach a page on their own.
/// </summary>
public static class KeyWords
{
    public const string Api = "api";
    public const string EventsWrite = "events:write";
    public const string QueuesAgent = "queues:agent";

    /// <summary>The scopes in the order the New key form offers them, with the checkbox's label and what the key may do.</summary>
    public static readonly IReadOnlyList<(string Scope, string Label, string Meaning)> Scopes =
    [
        (Api, "API", "acts as the member chosen below, with their role (the console and the REST API)"),
        (EventsWrite, "Sends events", "for a producer that posts events to Ingestion, nothing else"),
        (QueuesAgent, "Launch agent", "claims and runs the team's launch queue items, nothing else"),
    ];

    /// <summary>"Acts as bob (API)", "Sends events", "Launch agent"; a scope of a newer Api is shown by its name.</summary>
    public static string Scope(string scope, string? user) => scope switch
    {
        Api => string.IsNullOrEmpty(user) ? "API" : $"Acts as {user} (API)",
        _ => Scopes.FirstOrDefault(s => s.Scope == scope).Label ?? $"Another scope ({scope})",
    };

    /// <summary>What the Api lists of a key (its prefix), computed from a key: the same as the Api's ApiKeys.Display.</summary>
    public static string Display(string key) => key.Length > 11 ? key[..11] + "…" : key;
}
