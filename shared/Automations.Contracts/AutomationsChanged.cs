namespace Automations.Contracts;

/// <summary>
/// Cache invalidation: the automations of entity/project changed. <paramref name="Team"/>: a team automation of the
/// entity changed, which may apply to any of its projects (Project is then empty); a consumer drops every project of
/// the entity. A message from before the field existed reads as false.
/// </summary>
public record AutomationsChanged(
    string Entity,
    string Project,
    Guid? AutomationId,
    DateTimeOffset ChangedAt,
    bool Team = false);
