using System.Text;

namespace Automations.Persistence.Writes;

/// <summary>
/// The little of PostgreSQL's lexer the write unit needs: where its named parameters (<c>@name</c>) and its words are,
/// outside string literals (<c>'...'</c>, <c>E'...'</c>, <c>$tag$...$tag$</c>), quoted identifiers and comments.
/// </summary>
/// <remarks>
/// A parameter is <c>@</c> followed by a letter or <c>_</c>, not preceded by a word character, <c>@</c> or <c>&lt;</c>: so
/// <c>@&gt;</c>, <c>&lt;@</c> and <c>@@</c> stay operators and <c>@id::jsonb</c> names <c>id</c>.
/// </remarks>
internal static class SqlText
{
    /// <summary>
    /// <paramref name="sql"/> with each parameter renamed by <paramref name="rename"/> (given the name without <c>@</c>,
    /// it answers the new name without <c>@</c>).
    /// </summary>
    public static string RenameParameters(string sql, Func<string, string> rename)
    {
        var result = new StringBuilder(sql.Length + 64);
        var last = 0;
        foreach (var (start, length) in Scan(sql, parameters: true))
        {
            result.Append(sql, last, start - last).Append('@').Append(rename(sql.Substring(start + 1, length - 1)));
            last = start + length;
        }
        return result.Append(sql, last, sql.Length - last).ToString();
    }

    /// <summary>
    /// <paramref name="sql"/> with each named parameter replaced by its position (<c>$1</c>, <c>$2</c>, ...: the order of
    /// first use), and the names in that order. Npgsql sends positional parameters as they are, without parsing the text.
    /// </summary>
    public static (string Sql, string[] Names) ToPositional(string sql)
    {
        var positions = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        var names = new List<string>();
        var result = new StringBuilder(sql.Length);
        var last = 0;
        foreach (var (start, length) in Scan(sql, parameters: true))
        {
            var name = sql.Substring(start + 1, length - 1);
            if (!positions.TryGetValue(name, out var position))
            {
                names.Add(name);
                positions[name] = position = names.Count;
            }
            result.Append(sql, last, start - last).Append('$').Append(position);
            last = start + length;
        }
        return (result.Append(sql, last, sql.Length - last).ToString(), [.. names]);
    }

    /// <summary>
    /// The words (identifiers and keywords, lower-cased) of <paramref name="sql"/> outside literals, quoted identifiers and
    /// comments, except the parts of qualified names after the first (<c>x</c> of <c>x.inbox</c>).
    /// </summary>
    public static IEnumerable<string> Words(string sql) =>
        Scan(sql, parameters: false).Select(t => sql.Substring(t.Start, t.Length).ToLowerInvariant());

    private static bool IsWordStart(char c) => char.IsAsciiLetter(c) || c == '_' || c > 127;
    private static bool IsWord(char c) => char.IsAsciiLetterOrDigit(c) || c == '_' || c == '$' || c > 127;

    /// <summary>The spans of parameters (<paramref name="parameters"/>) or of words.</summary>
    private static IEnumerable<(int Start, int Length)> Scan(string sql, bool parameters)
    {
        var i = 0;
        while (i < sql.Length)
        {
            var c = sql[i];
            var next = i + 1 < sql.Length ? sql[i + 1] : '\0';
            if (c == '-' && next == '-')
            {
                var end = sql.IndexOf('\n', i);
                i = end < 0 ? sql.Length : end + 1;
            }
            else if (c == '/' && next == '*')
            {
                // Block comments nest in PostgreSQL.
                var depth = 1;
                i += 2;
                while (i < sql.Length && depth > 0)
                {
                    if (sql[i] == '/' && i + 1 < sql.Length && sql[i + 1] == '*') { depth++; i += 2; }
                    else if (sql[i] == '*' && i + 1 < sql.Length && sql[i + 1] == '/') { depth--; i += 2; }
                    else i++;
                }
            }
            else if (c == '\'')
            {
                var escapes = i > 0 && (sql[i - 1] is 'e' or 'E') && (i < 2 || !IsWord(sql[i - 2]));
                i = SkipQuoted(sql, i, '\'', escapes);
            }
            else if (c == '"')
            {
                i = SkipQuoted(sql, i, '"', escapes: false);
            }
            else if (c == '$' && (i == 0 || !IsWord(sql[i - 1])) && DollarTag(sql, i) is { } tag)
            {
                var end = sql.IndexOf(tag, i + tag.Length, StringComparison.Ordinal);
                i = end < 0 ? sql.Length : end + tag.Length;
            }
            else if (c == '@' && parameters && IsWordStart(next) && (i == 0 || !(IsWord(sql[i - 1]) || sql[i - 1] is '@' or '<')))
            {
                var end = i + 1;
                while (end < sql.Length && (char.IsAsciiLetterOrDigit(sql[end]) || sql[end] == '_')) end++;
                yield return (i, end - i);
                i = end;
            }
            else if (IsWordStart(c) && (i == 0 || !(IsWord(sql[i - 1]) || sql[i - 1] == '@')))
            {
                var end = i + 1;
                while (end < sql.Length && IsWord(sql[end])) end++;
                // E'...' is a literal: its prefix is not a word. A qualified name's part (x.inbox) is not a CTE's name.
                if (!parameters && !(end == i + 1 && end < sql.Length && sql[end] == '\'') && (i == 0 || sql[i - 1] != '.')) yield return (i, end - i);
                i = end;
            }
            else i++;
        }
    }

    private static int SkipQuoted(string sql, int start, char quote, bool escapes)
    {
        var i = start + 1;
        while (i < sql.Length)
        {
            if (escapes && sql[i] == '\\') { i += 2; continue; }
            if (sql[i] == quote)
            {
                // A doubled quote is the quote itself.
                if (i + 1 < sql.Length && sql[i + 1] == quote) { i += 2; continue; }
                return i + 1;
            }
            i++;
        }
        return sql.Length;
    }

    /// <summary>The opening <c>$tag$</c> of a dollar-quoted string at <paramref name="i"/>, or null (<c>$1</c> is a positional parameter).</summary>
    private static string? DollarTag(string sql, int i)
    {
        var end = i + 1;
        if (end < sql.Length && sql[end] == '$') return "$$";
        if (end >= sql.Length || !IsWordStart(sql[end])) return null;
        while (end < sql.Length && (char.IsAsciiLetterOrDigit(sql[end]) || sql[end] == '_')) end++;
        return end < sql.Length && sql[end] == '$' ? sql.Substring(i, end - i + 1) : null;
    }
}
