namespace Automations.Contracts;

/// <summary>Cache invalidation: the automations of entity/project changed.</summary>
public record AutomationsChanged(
    string Entity,
    string Project,
    Guid? AutomationId,
    DateTimeOffset ChangedAt);
