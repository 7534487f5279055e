using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Automations.Core.Secrets;

/// <summary>
/// Replaces the secret values of one webhook request (access token, signing secret, each filled-in `${NAME}`) with
/// <see cref="Mask"/> wherever an endpoint that echoes the request may have put them in its answer: as they are;
/// JSON-escaped in the styles of common writers (.NET relaxed and default, JavaScript, Python, PHP), once or over the
/// JSON body we sent (an echo that wraps the body in JSON escapes it a second time); percent-encoded; and base64 at each
/// of the three byte alignments (Basic auth carries `user:token` in base64), alphabet standard or URL-safe.
/// Matches are found for every encoding first and overlapping ones masked as one, so one secret cannot show around
/// another. Pure: no I/O.
/// </summary>
public sealed class SecretMask
{
    public const string Mask = "********";

    /// <summary>A base64 fragment shorter than this is not masked: it would match ordinary text too often.</summary>
    public const int MinBase64Fragment = 8;

    private readonly string[] _patterns;

    public SecretMask(IEnumerable<string?> secrets)
    {
        _patterns = secrets.Where(s => !string.IsNullOrEmpty(s)).SelectMany(s => Encodings(s!))
            .Distinct(StringComparer.Ordinal).OrderByDescending(p => p.Length).ToArray();
        MarginBytes = _patterns.Length == 0 ? 0 : _patterns.Max(Encoding.UTF8.GetByteCount);
    }

    /// <summary>
    /// The longest encoding in UTF-8 bytes. Read this much past a cut: a secret that starts before the cut then ends in
    /// what was read, is masked whole, and the cut can only fall inside its mask.
    /// </summary>
    public int MarginBytes { get; }

    /// <summary>Every form of <paramref name="secret"/> that is masked.</summary>
    public static IReadOnlyList<string> Encodings(string secret)
    {
        var forms = new List<string> { secret };
        var sent = JsonEncodedText.Encode(secret, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value;
        foreach (var escape in JsonStyles)
        {
            forms.Add(escape(secret));
            forms.Add(escape(sent));
        }
        forms.Add(Uri.EscapeDataString(secret));
        var bytes = Encoding.UTF8.GetBytes(secret);
        for (var shift = 0; shift < 3; shift++)
        {
            var fragment = Base64Fragment(bytes, shift);
            if (fragment.Length < MinBase64Fragment) continue;
            forms.Add(fragment);
            forms.Add(fragment.Replace('+', '-').Replace('/', '_'));
        }
        return forms.Distinct(StringComparer.Ordinal).ToList();
    }

    private static readonly Func<string, string>[] JsonStyles =
    [
        s => JsonEncodedText.Encode(s, JavaScriptEncoder.UnsafeRelaxedJsonEscaping).Value,
        s => JsonEncodedText.Encode(s).Value,
        s => Escape(s, asciiOnly: false, escapeSlash: false),  // JavaScript JSON.stringify
        s => Escape(s, asciiOnly: true, escapeSlash: false),   // Python json.dumps
        s => Escape(s, asciiOnly: true, escapeSlash: true),    // PHP json_encode
    ];

    private static string Escape(string s, bool asciiOnly, bool escapeSlash)
    {
        var sb = new StringBuilder(s.Length + 8);
        foreach (var c in s)
        {
            switch (c)
            {
                case '"': sb.Append("\\\""); break;
                case '\\': sb.Append("\\\\"); break;
                case '/' when escapeSlash: sb.Append("\\/"); break;
                case '\b': sb.Append("\\b"); break;
                case '\f': sb.Append("\\f"); break;
                case '\n': sb.Append("\\n"); break;
                case '\r': sb.Append("\\r"); break;
                case '\t': sb.Append("\\t"); break;
                default:
                    if (c < ' ' || (asciiOnly && c > '\u007f'))
                        sb.Append("\\u").Append(((int)c).ToString("x4", CultureInfo.InvariantCulture));
                    else
                        sb.Append(c);
                    break;
            }
        }
        return sb.ToString();
    }

    /// <summary>
    /// The base64 characters that depend on <paramref name="bytes"/> alone when they follow <paramref name="shift"/>
    /// other bytes of a group: the characters mixed with a neighbour's bits differ with the neighbour and are left out.
    /// </summary>
    private static string Base64Fragment(byte[] bytes, int shift)
    {
        var padded = new byte[shift + bytes.Length];
        bytes.CopyTo(padded, shift);
        var encoded = Convert.ToBase64String(padded);
        // Character i covers bits [6i, 6i + 6); keep those inside the secret's bits [8 shift, 8 (shift + n)).
        var first = (8 * shift + 5) / 6;
        var end = 8 * (shift + bytes.Length) / 6;
        return end > first ? encoded[first..end] : "";
    }

    /// <summary><paramref name="text"/> with every secret masked.</summary>
    [return: NotNullIfNotNull(nameof(text))]
    public string? Apply(string? text) => text is null || _patterns.Length == 0 ? text : Apply(text, text.Length);

    /// <summary>Names and values masked (two names that mask alike keep both values).</summary>
    public IReadOnlyDictionary<string, string> Apply(IReadOnlyDictionary<string, string> headers)
    {
        if (_patterns.Length == 0) return headers;
        var masked = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, value) in headers)
        {
            var n = Apply(name);
            var v = Apply(value);
            masked[n] = masked.TryGetValue(n, out var before) ? before + ", " + v : v;
        }
        return masked;
    }

    /// <summary>
    /// The stored form of a response body: <paramref name="body"/> holds the first bytes read (at most
    /// <paramref name="maxBytes"/> plus <see cref="MarginBytes"/>); the result is decoded, NUL-free (PostgreSQL text
    /// cannot hold it), masked, and then cut to <paramref name="maxBytes"/> on a character boundary. Masking comes first
    /// so that a secret across the cut is masked whole: only text before the cut and masks are kept.
    /// </summary>
    public (string Text, bool Truncated) Excerpt(ReadOnlySpan<byte> body, int maxBytes)
    {
        var truncated = body.Length > maxBytes;
        var text = Encoding.UTF8.GetString(body);
        // The characters that come entirely from the first maxBytes (a character cut by the limit is not one of them).
        var keep = truncated ? Encoding.UTF8.GetDecoder().GetCharCount(body[..maxBytes], flush: false) : text.Length;
        if (text.Contains('\0', StringComparison.Ordinal))
        {
            keep -= text.AsSpan(0, keep).Count('\0');
            text = text.Replace("\0", "", StringComparison.Ordinal);
        }
        var masked = Apply(text, keep);
        if (Encoding.UTF8.GetByteCount(masked) <= maxBytes) return (masked, truncated);
        // Masks can be longer than what they hide: cut again (inside a mask or plain text, never a secret).
        var chars = 0;
        var bytes = 0;
        while (chars < masked.Length)
        {
            var width = char.IsHighSurrogate(masked[chars]) && chars + 1 < masked.Length ? 2 : 1;
            var size = Encoding.UTF8.GetByteCount(masked.AsSpan(chars, width));
            if (bytes + size > maxBytes) break;
            bytes += size;
            chars += width;
        }
        return (masked[..chars], true);
    }

    /// <summary>
    /// Masks every match of every encoding, overlapping and adjacent ones as one; emits text only from the first
    /// <paramref name="keep"/> characters (a mask that starts before <paramref name="keep"/> is written whole).
    /// </summary>
    private string Apply(string text, int keep)
    {
        var spans = new List<(int Start, int End)>();
        foreach (var pattern in _patterns)
            for (var i = text.IndexOf(pattern, StringComparison.Ordinal); i >= 0 && i < keep; i = text.IndexOf(pattern, i + 1, StringComparison.Ordinal))
                spans.Add((i, i + pattern.Length));
        if (spans.Count == 0) return keep >= text.Length ? text : text[..keep];
        spans.Sort();
        var masked = new StringBuilder(keep + Mask.Length);
        var at = 0;
        for (var k = 0; k < spans.Count;)
        {
            var (start, end) = spans[k++];
            while (k < spans.Count && spans[k].Start <= end) end = Math.Max(end, spans[k++].End);
            masked.Append(text, at, start - at).Append(Mask);
            at = end;
        }
        if (at < keep) masked.Append(text, at, keep - at);
        return masked.ToString();
    }
}
