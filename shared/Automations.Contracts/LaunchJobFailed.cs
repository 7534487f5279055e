namespace Automations.Contracts;

public record LaunchJobFailed(
    Guid CommandId,
    Guid RunId,
    Guid? QueueItemId,
    string Reason,
    DateTimeOffset FailedAt);
