using Automations.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Automations.Rules.Matching;

/// <summary>
/// Each replica needs its own copy of AutomationsChanged: a temporary endpoint per replica, named
/// <c>automations-changed-&lt;Rules:InstanceId&gt;</c>. No inbox: dropping a cached project twice is harmless.
/// </summary>
public sealed class AutomationsChangedConsumerDefinition : RetryingConsumerDefinition<AutomationsChangedConsumer>
{
    public const string Queue = "automations-changed";

    public AutomationsChangedConsumerDefinition(IOptions<RulesOptions> options) : base(Queue) =>
        Endpoint(e =>
        {
            e.Name = Queue;
            e.InstanceId = options.Value.InstanceId;
            e.Temporary = true;
        });
}
