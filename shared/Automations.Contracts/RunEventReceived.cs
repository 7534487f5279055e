namespace Automations.Contracts;

/// <summary>
/// A run event accepted by Ingestion (RUN_STATE or RUN_METRIC). <paramref name="EventId"/> is ours;
/// <paramref name="ProducerEventId"/> is the producer's dedupe key. <paramref name="State"/> is set for RUN_STATE,
/// <paramref name="Step"/> and <paramref name="Metrics"/> for RUN_METRIC.
/// </summary>
public record RunEventReceived(
    Guid EventId,
    string ProducerEventId,
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
    DateTimeOffset OccurredAt,
    DateTimeOffset ReceivedAt);
