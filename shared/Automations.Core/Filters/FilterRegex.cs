using System.Text.RegularExpressions;

namespace Automations.Core.Filters;

/// <summary>
/// An automation's alias, tag or (team automations) project regex, the one home of its meaning for the Api (save-time check) and Rules (matching).
/// W&amp;B stores these filters as MongoDB <c>$regex</c>, which is a search: <c>prod</c> matches <c>production</c> and
/// <c>preprod</c>; a pattern anchors itself where it wants (<c>^prod</c> a prefix, <c>^prod$</c> the whole value). The
/// pattern is therefore compiled as written and never wrapped. Automations saved when a pattern had to match the whole
/// value were rewritten to <see cref="WholeValue"/> by control migration 0002, so they keep their meaning.
/// </summary>
public static class FilterRegex
{
    public const int MaxLength = 512;

    /// <summary>What <see cref="WholeValue"/> adds; a pattern the migration wrapped may exceed <see cref="MaxLength"/> by this much.</summary>
    private const int WrapLength = 6;

    /// <summary>
    /// The compiled filter, or null when there is none (null or empty: every value passes, as before). Culture-invariant,
    /// with a match timeout so that a pathological pattern cannot stall a consumer. Throws ArgumentException when the
    /// pattern does not parse.
    /// </summary>
    public static Regex? Compile(string? pattern, TimeSpan matchTimeout) =>
        string.IsNullOrEmpty(pattern) ? null : new Regex(pattern, RegexOptions.CultureInvariant, matchTimeout);

    /// <summary>
    /// Whether <paramref name="filter"/> lets <paramref name="value"/> through: no filter passes everything; a filter is
    /// searched in the value, and a missing value does not pass. Throws RegexMatchTimeoutException.
    /// </summary>
    public static bool Passes(Regex? filter, string? value) => filter is null || (value is not null && filter.IsMatch(value));

    /// <summary>
    /// The whole-value form of <paramref name="pattern"/> (the meaning filters had before they became searches): the
    /// same text control migration 0002 writes, <c>^(?:pattern)$</c>.
    /// </summary>
    public static string WholeValue(string pattern) => $"^(?:{pattern})$";

    /// <summary>Null when <paramref name="pattern"/> is a usable filter (or absent), else what is wrong with it.</summary>
    public static string? Check(string? pattern, TimeSpan matchTimeout)
    {
        if (string.IsNullOrEmpty(pattern)) return null;
        // A stored pattern the migration wrapped is read back by clients and sent again unchanged: it must stay savable.
        var limit = pattern.StartsWith("^(?:", StringComparison.Ordinal) && pattern.EndsWith(")$", StringComparison.Ordinal) ? MaxLength + WrapLength : MaxLength;
        if (pattern.Length > limit) return $"must be at most {MaxLength} characters";
        try
        {
            _ = Compile(pattern, matchTimeout);
            return null;
        }
        catch (ArgumentException ex)
        {
            return $"is not a valid regular expression: {ex.Message}";
        }
    }
}
