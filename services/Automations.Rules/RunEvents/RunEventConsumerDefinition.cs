using System.Text;
using Automations.Contracts;
using Automations.ServiceDefaults;
using MassTransit;

namespace Automations.Rules.RunEvents;

/// <summary>
/// Events of one run are consumed one at a time, in the order the queue hands them out (a partition per run key within
/// this replica): a run's metric values reach its windows in the order they were logged. Across replicas the state rows'
/// lock serializes them, and a value that arrives late still lands in step order (MetricWindow).
/// </summary>
public sealed class RunEventConsumerDefinition() : RetryingConsumerDefinition<RunEventConsumer>(Queue)
{
    public const string Queue = "rules-run-events";

    /// <summary>Inbox name = endpoint name.</summary>
    public const string InboxName = Queue;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<RunEventConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        base.ConfigureConsumer(endpointConfigurator, consumerConfigurator, context);
        consumerConfigurator.Message<RunEventReceived>(m =>
            m.UsePartitioner(32, c => $"{c.Message.Entity}/{c.Message.Project}/{c.Message.RunId}", Encoding.UTF8));
    }
}
