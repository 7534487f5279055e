namespace Automations.Contracts;

/// <summary>Names shared with producers outside .NET.</summary>
public static class Exchanges
{
    /// <summary>Durable topic exchange; raw JSON bodies (no MassTransit envelope); routing key = event type.</summary>
    public const string ArtifactEvents = "artifact-events";
}
