using System.Text.RegularExpressions;
using Automations.Contracts;
using Automations.Core.Filters;
using Automations.Persistence.Control;

namespace Automations.Rules.Matching;

/// <summary>An automation with its filters compiled once per cache load.</summary>
public sealed class CompiledAutomation
{
    private readonly Regex? _alias;
    private readonly Regex? _tag;
    private readonly Regex? _project;

    public CompiledAutomation(AutomationRow row, TimeSpan regexTimeout)
    {
        Row = row;
        try
        {
            _alias = FilterRegex.Compile(row.AliasRegex, regexTimeout);
            _tag = FilterRegex.Compile(row.TagRegex, regexTimeout);
            _project = FilterRegex.Compile(row.ProjectRegex, regexTimeout);
            Run = RunEvents.RunTrigger.For(row, regexTimeout);
        }
        catch (ArgumentException ex)
        {
            Invalid = $"invalid filter regex: {ex.Message}";
        }
        catch (System.Text.Json.JsonException ex)
        {
            Invalid = $"invalid run filter: {ex.Message}";
        }
    }

    public AutomationRow Row { get; }

    /// <summary>The run trigger of a run automation (RUN_STATE, RUN_METRIC_*); null for an artifact automation.</summary>
    public RunEvents.RunTrigger? Run { get; }

    /// <summary>Set when a stored filter does not compile: such an automation never matches.</summary>
    public string? Invalid { get; }

    /// <summary>
    /// Whether a team automation watches <paramref name="project"/>: its project regex, when set, is found in the name
    /// (a search, as the alias and tag regexes). A project automation applies to its own project only. Throws
    /// RegexMatchTimeoutException.
    /// </summary>
    public bool AppliesTo(string project) =>
        Row.IsTeam ? Invalid is null && FilterRegex.Passes(_project, project) : string.Equals(Row.Project, project, StringComparison.Ordinal);

    /// <summary>
    /// Event type equal; collection equal, or null on the automation (whole project); alias regex, when set, found in the
    /// event's alias (a search, as W&amp;B's <c>$regex</c>: see <see cref="FilterRegex"/>; an event without alias does not
    /// match); same for the tag regex. Throws RegexMatchTimeoutException.
    /// </summary>
    public bool Matches(ArtifactEventReceived e)
    {
        if (Invalid is not null) return false;
        if (!string.Equals(Row.EventType, e.EventType, StringComparison.Ordinal)) return false;
        if (Row.Collection is not null && !string.Equals(Row.Collection, e.Collection, StringComparison.Ordinal)) return false;
        return FilterRegex.Passes(_alias, e.Alias) && FilterRegex.Passes(_tag, e.Tag);
    }
}
