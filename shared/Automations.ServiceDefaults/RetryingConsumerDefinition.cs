using MassTransit;

namespace Automations.ServiceDefaults;

/// <summary>
/// What every consumer's definition sets: its endpoint's name, written out and never derived from a class name (a deployed
/// broker holds that queue, with messages in it: renaming the class must not move them), and <see cref="ConsumerRetry"/>.
/// A consumer that keeps an inbox names its rows after its endpoint: inbox name = endpoint name.
/// </summary>
public abstract class RetryingConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer>
    where TConsumer : class, IConsumer
{
    protected RetryingConsumerDefinition(string queue) => Endpoint(e => e.Name = queue);

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator,
        IRegistrationContext context) =>
        endpointConfigurator.UseConsumerRetry();
}
