namespace Automations.Contracts;

/// <summary>
/// Several <see cref="ArtifactEventReceived"/> events in one message: what Ingestion committed within its idle linger
/// (`Outbox:IdleLinger`) or while its last publish of events waited for the broker's confirm (one persistent broker
/// message and one consumer dispatch in Rules for several events; an event that finds no other goes alone). Each item stands alone: Rules handles it exactly as the single
/// message, under the same inbox key (the event's id, which is the single message's id), so an event that arrives both
/// ways, or in a batch redelivered, fires its automations once. Ingestion's outbox relay still publishes an event no batch
/// carried as the single message.
/// </summary>
public record ArtifactEventsReceived(IReadOnlyList<ArtifactEventItem> Events);

/// <summary>One event of an <see cref="ArtifactEventsReceived"/> batch, with the W3C traceparent of the request that stored
/// it: Rules continues that trace for this event, as the single message's headers would have it do.</summary>
public record ArtifactEventItem(ArtifactEventReceived Event, string? Traceparent);
