namespace Automations.Deploy.Tests;

/// <summary>What each service reads from configuration that has no safe default: every deployment must provide it.</summary>
internal static class ServiceConfiguration
{
    public static readonly string[] Everyone = ["ConnectionStrings__Postgres", "ConnectionStrings__RabbitMq"];

    /// <summary>compose service name / Kubernetes name -> keys beyond <see cref="Everyone"/>.</summary>
    public static readonly IReadOnlyDictionary<string, string[]> Extra = new Dictionary<string, string[]>
    {
        ["api"] = ["Secrets__MasterKeys__", "Secrets__ActiveKeyId"],
        ["ingestion"] = [],
        ["rules"] = [],
        ["webhook-sender"] = ["Secrets__MasterKeys__", "Secrets__ActiveKeyId", "Webhooks__AllowedCidrs"],
        ["launch-enqueuer"] = [],
    };

    public static IEnumerable<string> Required(string service) => Everyone.Concat(Extra[service]);
}
