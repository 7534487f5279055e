using Automations.Contracts;
using Automations.Core.Matching;
using Automations.Persistence.Control;

namespace Automations.Rules.Matching;

/// <summary>An automation with its trigger compiled once per cache load (<see cref="AutomationTrigger"/>, shared with the Api's preview).</summary>
public sealed class CompiledAutomation(AutomationRow row, TimeSpan regexTimeout)
{
    public AutomationRow Row { get; } = row;

    public AutomationTrigger Trigger { get; } = row.Trigger(regexTimeout);

    /// <summary>Set when a stored filter does not compile: such an automation never matches.</summary>
    public string? Invalid => Trigger.Invalid;

    /// <summary>See <see cref="AutomationTrigger.Check(ArtifactEventReceived)"/>. Throws RegexMatchTimeoutException.</summary>
    public bool Matches(ArtifactEventReceived e) => Trigger.Matches(e);
}
