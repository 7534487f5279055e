using Automations.ServiceDefaults;

namespace Automations.Rules.Runs;

/// <summary>No inbox: each move of a run guards itself (see <see cref="RunOutcomeConsumer"/>).</summary>
public sealed class RunOutcomeConsumerDefinition() : RetryingConsumerDefinition<RunOutcomeConsumer>(Queue)
{
    public const string Queue = "rules-run-outcomes";
}
