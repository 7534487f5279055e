using Automations.Contracts;
using MassTransit;

namespace Automations.Rules.Matching;

/// <summary>Runs on a temporary endpoint per replica (fan-out): every replica drops its cached copy of the project.</summary>
public sealed class AutomationsChangedConsumer(AutomationCache cache, ILogger<AutomationsChangedConsumer> logger) : IConsumer<AutomationsChanged>
{
    public Task Consume(ConsumeContext<AutomationsChanged> context)
    {
        var m = context.Message;
        cache.Invalidate(m.Entity, m.Project);
        logger.LogInformation("Automations of {Entity}/{Project} changed; cache dropped", m.Entity, m.Project);
        return Task.CompletedTask;
    }
}
