using Automations.Contracts;
using MassTransit;

namespace Automations.Rules.Matching;

/// <summary>Runs on a temporary endpoint per replica (fan-out): every replica drops its cached copy of the project (of every project of the entity for a team change).</summary>
public sealed class AutomationsChangedConsumer(AutomationCache cache, ILogger<AutomationsChangedConsumer> logger) : IConsumer<AutomationsChanged>
{
    public Task Consume(ConsumeContext<AutomationsChanged> context)
    {
        var m = context.Message;
        if (m.Team)
        {
            cache.InvalidateTeam(m.Entity);
            logger.LogInformation("Team automations of {Entity} changed; every cached project of the entity dropped", m.Entity);
        }
        else
        {
            cache.Invalidate(m.Entity, m.Project);
            logger.LogInformation("Automations of {Entity}/{Project} changed; cache dropped", m.Entity, m.Project);
        }
        return Task.CompletedTask;
    }
}
