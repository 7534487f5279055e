using System.Collections.Frozen;
using Automations.Contracts;

namespace Automations.Persistence.Outbox;

/// <summary>The message types the outbox may carry: the public records of Automations.Contracts, by short name.</summary>
internal static class MessageTypes
{
    private static readonly FrozenDictionary<string, Type> ByName = typeof(SendWebhook).Assembly.GetExportedTypes()
        .Where(t => t.Namespace == "Automations.Contracts" && t is { IsClass: true, IsAbstract: false } && t.GetMethod("<Clone>$") is not null)
        .ToFrozenDictionary(t => t.Name, StringComparer.Ordinal);

    public static string NameOf(Type type) =>
        ByName.TryGetValue(type.Name, out var t) && t == type ? type.Name : throw new ArgumentException($"{type} is not a contract message");

    public static Type Resolve(string name) =>
        ByName.TryGetValue(name, out var t) ? t : throw new InvalidOperationException($"Unknown outbox message type '{name}'");
}
