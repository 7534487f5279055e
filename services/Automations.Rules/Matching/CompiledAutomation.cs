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

    public CompiledAutomation(AutomationRow row, TimeSpan regexTimeout)
    {
        Row = row;
        try
        {
            _alias = FilterRegex.Compile(row.AliasRegex, regexTimeout);
            _tag = FilterRegex.Compile(row.TagRegex, regexTimeout);
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
    /// Event type equal; collection equal, or null on the automation (whole project); alias regex, when set, found in the
    /// event's alias (a search, as W&amp;B's <c>$regex</c>: see <see cref="FilterRegex"/>; an event without alias does not
    /// match); same for the tag regex. Throws RegexMatchTimeoutException.
    /// </summary>
    public bool Matches(ArtifactEventReceived e)
    {
        if (Invalid is not null) return false;
        if (!string.Equals(Row.EventType, e.EventType, StringComparison.Ordinal)) return false;
        if (Row.Collection is not null && !string.Equals(Row.Collection, e.Collection, StringComparison.Ordinal)) return false;
        if (_alias is not null && (e.Alias is null || !_alias.IsMatch(e.Alias))) return false;
        if (_tag is not null && (e.Tag is null || !_tag.IsMatch(e.Tag))) return false;
        return true;
    }
}
