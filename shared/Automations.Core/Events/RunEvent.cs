namespace Automations.Core.Events;

/// <summary>A validated run event (RUN_STATE or RUN_METRIC) as a producer sent it (HTTP body or raw AMQP message).</summary>
public sealed record RunEvent(
    string EventId,
    string EventType,
    string Entity,
    string Project,
    string RunId,
    string? RunName,
    string? User,
    IReadOnlyList<string>? Tags,
    string? State,
    long? Step,
    IReadOnlyDictionary<string, double>? Metrics,
    DateTimeOffset OccurredAt)
{
    /// <summary>The message Ingestion publishes for it (<paramref name="id"/> is ours, EventId the producer's).</summary>
    public Contracts.RunEventReceived ToReceived(Guid id, DateTimeOffset receivedAt) =>
        new(id, EventId, EventType, Entity, Project, RunId, RunName, User, Tags, State, Step, Metrics, OccurredAt, receivedAt);
}
