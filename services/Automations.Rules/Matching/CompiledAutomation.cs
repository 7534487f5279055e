using System.Text.RegularExpressions;
using Automations.Contracts;
using Automations.Core.Filters;
using Automations.Core.Matching;
using Automations.Persistence.Control;

namespace Automations.Rules.Matching;

/// <summary>An automation with its trigger compiled once per cache load (<see cref="AutomationTrigger"/>, shared with the Api's preview).</summary>
public sealed class CompiledAutomation(AutomationRow row, TimeSpan regexTimeout)
{
    public AutomationRow Row { get; } = row;

    public AutomationTrigger Trigger { get; } = row.Trigger(regexTimeout);

    /// <summary>A team automation's project regex (team scope; Api-validated as the alias and tag regexes).</summary>
    private readonly (Regex? Regex, string? Invalid) _project = CompileProject(row.ProjectRegex, regexTimeout);

    /// <summary>Set when a stored filter does not compile: such an automation never matches.</summary>
    public string? Invalid => Trigger.Invalid ?? _project.Invalid;

    /// <summary>
    /// Whether a team automation watches <paramref name="project"/>: its project regex, when set, is found in the name
    /// (a search, as the alias and tag regexes). A project automation applies to its own project only. Throws
    /// RegexMatchTimeoutException.
    /// </summary>
    public bool AppliesTo(string project) =>
        Row.IsTeam ? Invalid is null && FilterRegex.Passes(_project.Regex, project) : string.Equals(Row.Project, project, StringComparison.Ordinal);

    /// <summary>See <see cref="AutomationTrigger.Check(ArtifactEventReceived)"/>. Throws RegexMatchTimeoutException.</summary>
    public bool Matches(ArtifactEventReceived e) => Invalid is null && Trigger.Matches(e);

    private static (Regex?, string?) CompileProject(string? pattern, TimeSpan timeout)
    {
        try
        {
            return (FilterRegex.Compile(pattern, timeout), null);
        }
        catch (ArgumentException ex)
        {
            return (null, $"invalid project regex: {ex.Message}");
        }
    }
}
