using System.Text.RegularExpressions;
using Automations.Core.Filters;

namespace Automations.Core.Tests;

/// <summary>Alias and tag filters are searches, as W&amp;B's MongoDB-style <c>$regex</c>: a pattern anchors itself where it wants.</summary>
public class Matching_filter_regexes
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMilliseconds(100);

    private static bool Passes(string? pattern, string value) => FilterRegex.Compile(pattern, Timeout) is not { } regex || regex.IsMatch(value);

    public static TheoryData<string?, string, bool> Searches => new()
    {
        // The regression: an automation with alias regex ^prod never fired for alias production.
        { "^prod", "production", true },
        { "^prod", "preprod", false },
        { "prod", "production", true },
        { "prod", "preprod", true },
        { "prod", "pre-production", true },
        { "prod", "staging", false },
        { "^prod$", "prod", true },
        { "^prod$", "production", false },
        { "^production$", "pre-production", false },
        { "prod$", "preprod", true },
        { "prod$", "production", false },
        { "gold|silver", "goldfish", true },
        { "^(gold|silver)$", "goldfish", false },
        { "^(gold|silver)$", "silver", true },
        { "v[0-9]+", "release-v12-rc", true },
        { "^v[0-9]+$", "v12-rc", false },
        { "(?i)^PROD", "production", true },
        { "^prod", "Production", false },
        // No filter: every value passes.
        { null, "anything", true },
        { "", "anything", true },
    };

    [Theory]
    [MemberData(nameof(Searches))]
    public void Should_find_the_pattern_anywhere_unless_it_anchors_itself(string? pattern, string value, bool expected) =>
        Assert.Equal(expected, Passes(pattern, value));

    public static TheoryData<string, string> OldFilters => new()
    {
        { "production", "production" }, { "production", "pre-production" }, { "prod.*", "production" }, { "prod.*", "preprod" },
        { "^prod", "production" }, { "gold|silver", "gold" }, { "gold|silver", "goldfish" }, { "a|b$", "xa" }, { "a|b$", "b" },
        { "x$", "x\n" }, { " ", " " }, { " ", "  " }, { "(?i)prod", "PROD" }, { "^$", "" }, { "[0-9]+", "v12" }, { "[0-9]+", "12" },
    };

    /// <summary>Control migration 0002 stores <see cref="FilterRegex.WholeValue"/>: the regex the old matcher built, so the meaning is kept.</summary>
    [Theory]
    [MemberData(nameof(OldFilters))]
    public void Should_keep_an_old_filters_meaning_in_its_whole_value_form(string pattern, string value)
    {
        // How Rules matched before filters became searches.
        var old = new Regex($"^(?:{pattern})$", RegexOptions.CultureInvariant, Timeout).IsMatch(value);
        Assert.Equal(old, Passes(FilterRegex.WholeValue(pattern), value));
        // Wrapping twice (a migration run again) changes nothing either.
        Assert.Equal(old, Passes(FilterRegex.WholeValue(FilterRegex.WholeValue(pattern)), value));
    }

    public static TheoryData<string?, string?> Checks => new()
    {
        { null, null },
        { "", null },
        { "^prod", null },
        { new string('a', FilterRegex.MaxLength), null },
        { new string('a', FilterRegex.MaxLength + 1), "must be at most 512 characters" },
        // A pattern of the maximum length that the migration wrapped is read back and saved again unchanged.
        { FilterRegex.WholeValue(new string('a', FilterRegex.MaxLength)), null },
        { FilterRegex.WholeValue(new string('a', FilterRegex.MaxLength + 1)), "must be at most 512 characters" },
        { "(unclosed", "is not a valid regular expression" },
        { "[z-a]", "is not a valid regular expression" },
    };

    [Theory]
    [MemberData(nameof(Checks))]
    public void Should_check_a_pattern_before_it_is_saved(string? pattern, string? problem)
    {
        var found = FilterRegex.Check(pattern, Timeout);
        if (problem is null) Assert.Null(found);
        else Assert.StartsWith(problem, found);
    }

    [Fact]
    public void Should_stop_a_pathological_pattern_at_the_match_timeout()
    {
        var regex = FilterRegex.Compile("^(a|aa)+$", TimeSpan.FromMilliseconds(10))!;
        Assert.Throws<RegexMatchTimeoutException>(() => regex.IsMatch(new string('a', 64) + "!"));
    }
}
