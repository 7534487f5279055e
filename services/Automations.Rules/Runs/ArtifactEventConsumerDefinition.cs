using Automations.ServiceDefaults;

namespace Automations.Rules.Runs;

public sealed class ArtifactEventConsumerDefinition() : RetryingConsumerDefinition<ArtifactEventConsumer>(Queue)
{
    public const string Queue = "rules-artifact-events";

    /// <summary>Inbox name = endpoint name.</summary>
    public const string InboxName = Queue;
}
