using Automations.ServiceDefaults;

namespace Automations.LaunchEnqueuer.Enqueue;

public sealed class EnqueueLaunchJobConsumerDefinition() : RetryingConsumerDefinition<EnqueueLaunchJobConsumer>(Queue)
{
    public const string Queue = "enqueue-launch-job";

    /// <summary>Inbox name = endpoint name.</summary>
    public const string InboxName = Queue;
}
