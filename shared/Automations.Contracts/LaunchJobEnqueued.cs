namespace Automations.Contracts;

public record LaunchJobEnqueued(
    Guid CommandId,
    Guid RunId,
    Guid QueueItemId,
    Guid QueueId,
    DateTimeOffset EnqueuedAt);
