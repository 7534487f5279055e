namespace Automations.Core.Validation;

/// <summary>
/// Text every store and reader here can keep: PostgreSQL refuses NUL (U+0000) in text and jsonb, and a lone UTF-16
/// surrogate has no UTF-8 form (Npgsql throws on it). Input with either is refused where it enters; text that must be
/// kept whatever it holds (a rejected message's reason, routing key or message id) is scrubbed instead.
/// </summary>
public static class StorableText
{
    public const string NulProblem = "contains a NUL character (\\u0000), which cannot be stored";
    public const string SurrogateProblem = "contains an unpaired UTF-16 surrogate (\\uD800-\\uDFFF alone), which is not text";

    /// <returns>null when <paramref name="text"/> can be stored as it is; else why not.</returns>
    public static string? Problem(ReadOnlySpan<char> text)
    {
        if (!text.Contains('\0') && text.IndexOfAnyInRange('\uD800', '\uDFFF') < 0) return null;
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\0') return NulProblem;
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1])) i++;
            else if (char.IsSurrogate(c)) return SurrogateProblem;
        }
        return null;
    }

    /// <summary>The text with each NUL and unpaired surrogate replaced by U+FFFD, so that it can be stored.</summary>
    public static string Scrub(string text)
    {
        if (Problem(text) is null) return text;
        var chars = text.ToCharArray();
        for (var i = 0; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) i++;
            else if (chars[i] == '\0' || char.IsSurrogate(chars[i])) chars[i] = '\uFFFD';
        }
        return new string(chars);
    }
}
