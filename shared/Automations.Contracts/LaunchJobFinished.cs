namespace Automations.Contracts;

public record LaunchJobFinished(
    Guid CommandId,
    Guid RunId,
    Guid QueueItemId,
    int ExitCode,
    DateTimeOffset FinishedAt);
