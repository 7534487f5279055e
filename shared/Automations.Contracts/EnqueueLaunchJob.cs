namespace Automations.Contracts;

/// <summary>Queue one Launch job run. Carries everything needed so a later change to the automation does not alter it.</summary>
public record EnqueueLaunchJob(
    Guid CommandId,
    Guid RunId,
    Guid EventId,
    Guid AutomationId,
    string Entity,
    string Project,
    Guid JobId,
    int JobVersion,
    Guid QueueId,
    string? TargetProject,
    string OverridesJson,
    string EventJson,
    DateTimeOffset OccurredAt);
