using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Automations.Core.Templates;

/// <summary>
/// Payload templates: JSON whose strings (values or property names) hold `${name}` placeholders; `$${` is a literal `${`.
/// Rendering walks the parsed JSON and rewrites each string, so a substituted value always stays inside its string
/// (quotes, backslashes, newlines, `}` and emoji are escaped by the JSON writer) and the result always parses.
///
/// Two stages, so that no secret value is stored or carried in a message. Rules renders the event's variables into a
/// <em>sealed</em> payload (<see cref="Render(string, Func{string, string?})"/>); the sender fills in the secret
/// references of the sealed payload (<see cref="ExpandSecrets"/>). A secret must be expanded only where the author
/// wrote `${NAME}` in the saved template, never where event text spells one, alone or next to another value or to
/// the template's own text (`$` at the end of one value, `{NAME}` at the start of the next). Escaping each value
/// cannot give that, because concatenation makes new text. The sealed form gives it by construction: it is an
/// injective encoding of each string in which every `$` that does not start an author's reference — a `$` of the
/// template's literal text or of a substituted value — is written `$$`, and each reference the author wrote and Rules
/// did not resolve (a secret name) is copied as `${NAME}`. A sealed string is thus a sequence of three kinds of token:
/// `$$`, `${NAME}` (NAME without braces) and any character other than `$`. Every piece Rules writes (literal text, a
/// value, an author's reference) is a whole number of tokens, so the boundaries between pieces are token boundaries.
/// The sender reads left to right: at a token boundary, `$$` and `${` tell the two `$` tokens apart by their second
/// character, and a reference ends at its first `}`; so the reader stays on token boundaries whatever the pieces
/// hold, and a `${` it reads is always a reference the author wrote.
/// Chosen over structured markers beside the payload (reference positions carried in the command) because the sealed
/// payload stays one self-contained JSON document that the run history and delivery log show as it is, and the
/// encoding is a few lines that can be checked exhaustively. Cost: a `$` shows as `$$` in stored payloads.
///
/// Payloads rendered before this encoding (<see cref="Contracts.SendWebhook.LegacyPayload"/>: only `${` escaped, as
/// `$${`) are expanded by <see cref="ExpandLegacySecrets"/>, as they were then.
/// </summary>
public static partial class PayloadTemplate
{
    [GeneratedRegex(@"\$\$\{|\$\{([^{}]*)\}")]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_.\-]+)?$")]
    private static partial Regex NamePattern();

    /// <summary>`$NAME` without braces: an identifier after a `$` (the longest, as a shell reads it).</summary>
    [GeneratedRegex(@"\$([A-Za-z_][A-Za-z0-9_]*)")]
    private static partial Regex BareName();

    /// <summary>
    /// Rules' stage: the sealed payload. <paramref name="resolve"/> returns null for a name it does not know (a secret
    /// name), which stays a reference for the sender.
    /// </summary>
    public static string Render(string template, Func<string, string?> resolve) => Rewrite(template, s => Seal(s, resolve));

    public static string Render(string template, IReadOnlyDictionary<string, string> values) =>
        Render(template, name => values.TryGetValue(name, out var v) ? v : null);

    /// <summary>The sender's stage: fills in the references of a sealed payload; a name <paramref name="secret"/> does not know stays `${NAME}`.</summary>
    public static string ExpandSecrets(string sealedPayload, Func<string, string?> secret) => Rewrite(sealedPayload, s => Expand(s, secret));

    /// <summary>
    /// Literal JSON (no placeholders at all) in the sealed form: every `$` in its strings doubled, so the sender expands
    /// nothing in it, whatever its text spells (a payload made by the system, such as an operational alert).
    /// </summary>
    public static string SealLiteral(string json) => Rewrite(json, s =>
    {
        if (!s.Contains('$', StringComparison.Ordinal)) return s;
        var sb = new StringBuilder(s.Length + 8);
        AppendText(sb, s);
        return sb.ToString();
    });

    /// <summary>Both stages at once, for a consumer without a secret stage (launch overrides): unresolved names stay `${name}` as text.</summary>
    public static string RenderFinal(string template, Func<string, string?> resolve) =>
        Rewrite(template, s => Expand(Seal(s, resolve), _ => null));

    /// <summary>The secret names a sealed payload references, in order (with repeats).</summary>
    public static IReadOnlyList<string> SecretReferences(string sealedPayload)
    {
        var names = new List<string>();
        Rewrite(sealedPayload, s => Expand(s, name => { names.Add(name); return null; }));
        return names;
    }

    /// <summary>
    /// Expands a payload rendered before the sealed form existed: `$${` is a literal `${`, every other `${NAME}` a
    /// reference (its names are <see cref="Names"/>). Kept for commands and deliveries made before the upgrade.
    /// </summary>
    public static string ExpandLegacySecrets(string payload, Func<string, string?> secret) =>
        Rewrite(payload, s => !s.Contains('$', StringComparison.Ordinal) ? s : Placeholder().Replace(s, m =>
            m.Value == "$${" ? "${" : secret(m.Groups[1].Value) ?? m.Value));

    private static string Rewrite(string json, Func<string, string> rewrite)
    {
        using var doc = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 64 });
        var buffer = new ArrayBufferWriter<byte>(json.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            Write(doc.RootElement, writer, rewrite);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void Write(JsonElement e, Utf8JsonWriter w, Func<string, string> rewrite)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                w.WriteStartObject();
                foreach (var p in e.EnumerateObject())
                {
                    w.WritePropertyName(rewrite(p.Name));
                    Write(p.Value, w, rewrite);
                }
                w.WriteEndObject();
                break;
            case JsonValueKind.Array:
                w.WriteStartArray();
                foreach (var item in e.EnumerateArray()) Write(item, w, rewrite);
                w.WriteEndArray();
                break;
            case JsonValueKind.String:
                w.WriteStringValue(rewrite(e.GetString()!));
                break;
            default:
                e.WriteTo(w);
                break;
        }
    }

    /// <summary>One template string to its sealed form: text and values with `$` doubled, unresolved references as written.</summary>
    private static string Seal(string s, Func<string, string?> resolve)
    {
        if (!s.Contains('$', StringComparison.Ordinal)) return s;
        var sealedText = new StringBuilder(s.Length + 16);
        var at = 0;
        foreach (Match m in Placeholder().Matches(s))
        {
            AppendText(sealedText, s.AsSpan(at, m.Index - at));
            if (m.Value == "$${") AppendText(sealedText, "${");
            else if (resolve(m.Groups[1].Value) is { } value) AppendText(sealedText, value);
            else sealedText.Append(m.ValueSpan);
            at = m.Index + m.Length;
        }
        AppendText(sealedText, s.AsSpan(at));
        return sealedText.ToString();
    }

    private static void AppendText(StringBuilder sb, ReadOnlySpan<char> text)
    {
        for (int i; (i = text.IndexOf('$')) >= 0; text = text[(i + 1)..])
            sb.Append(text[..i]).Append("$$");
        sb.Append(text);
    }

    /// <summary>One sealed string read token by token: `$$` is `$`, `${NAME}` is NAME's value (or stays), anything else is itself.</summary>
    private static string Expand(string s, Func<string, string?> secret)
    {
        var i = s.IndexOf('$', StringComparison.Ordinal);
        if (i < 0) return s;
        var text = new StringBuilder(s.Length);
        text.Append(s, 0, i);
        while (i < s.Length)
        {
            var next = s.IndexOf('$', i);
            if (next < 0) { text.Append(s, i, s.Length - i); break; }
            text.Append(s, i, next - i);
            i = next;
            if (i + 1 < s.Length && s[i + 1] == '$')
            {
                text.Append('$');
                i += 2;
            }
            else if (i + 1 < s.Length && s[i + 1] == '{' && s.AsSpan(i + 2).IndexOfAny('{', '}') is var length && length >= 0 && s[i + 2 + length] == '}')
            {
                var name = s.Substring(i + 2, length);
                text.Append(secret(name) ?? s.Substring(i, length + 3));
                i += length + 3;
            }
            else
            {
                // Never written by Render; read as text.
                text.Append('$');
                i++;
            }
        }
        return text.ToString();
    }

    /// <summary>Every `${name}` in the template's strings (not the escaped `$${`).</summary>
    public static IReadOnlyList<string> Names(string template)
    {
        using var doc = JsonDocument.Parse(template);
        var names = new List<string>();
        Collect(doc.RootElement, names);
        return names;
    }

    private static void Collect(JsonElement e, List<string> names)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject()) { CollectString(p.Name, names); Collect(p.Value, names); }
                break;
            case JsonValueKind.Array:
                foreach (var item in e.EnumerateArray()) Collect(item, names);
                break;
            case JsonValueKind.String:
                CollectString(e.GetString()!, names);
                break;
        }
    }

    private static void CollectString(string s, List<string> names)
    {
        foreach (Match m in Placeholder().Matches(s))
            if (m.Value != "$${") names.Add(m.Groups[1].Value);
    }

    /// <summary>
    /// The names the template writes as `$NAME` without braces that are a secret of <paramref name="secretNames"/> or a
    /// template variable, each once, in order. Only `${NAME}` is a reference, so such text is sent as it is written; the
    /// Api answers a warning for each (saving still succeeds: the text may be meant). A template that is not JSON has none.
    /// </summary>
    public static IReadOnlyList<string> BareReferences(string? template, IEnumerable<string> secretNames)
    {
        if (string.IsNullOrWhiteSpace(template)) return [];
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(template, new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException)
        {
            return [];
        }
        using (doc)
        {
            var secrets = secretNames.ToHashSet(StringComparer.Ordinal);
            var names = new List<string>();
            foreach (var s in Strings(doc.RootElement))
            {
                if (!s.Contains('$', StringComparison.Ordinal)) continue;
                // References and escapes first, so `${NAME}` and `$${NAME}` are not read as a bare `$NAME`; a space keeps
                // the text on either side apart.
                foreach (Match m in BareName().Matches(Placeholder().Replace(s, " ")))
                {
                    var name = m.Groups[1].Value;
                    if ((secrets.Contains(name) || TemplateVariables.IsKnown(name)) && !names.Contains(name)) names.Add(name);
                }
            }
            return names;
        }
    }

    /// <summary>What the Api answers for a name <see cref="BareReferences"/> found: what is sent, and how to send the value instead.</summary>
    public static string BareReferenceWarning(string name, IEnumerable<string> secretNames) =>
        secretNames.Contains(name, StringComparer.Ordinal)
            ? $"`${name}` is sent as the text `${name}`, not the value of the secret {name}: write `${{{name}}}` to send the secret"
            : $"`${name}` is sent as the text `${name}`, not the template variable {name}: write `${{{name}}}` to send its value";

    /// <summary>Every string of a JSON document: property names and string values.</summary>
    private static IEnumerable<string> Strings(JsonElement e)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var p in e.EnumerateObject())
                {
                    yield return p.Name;
                    foreach (var s in Strings(p.Value)) yield return s;
                }
                break;
            case JsonValueKind.Array:
                foreach (var item in e.EnumerateArray())
                    foreach (var s in Strings(item)) yield return s;
                break;
            case JsonValueKind.String:
                yield return e.GetString()!;
                break;
        }
    }

    /// <summary>
    /// Save-time check: the template is JSON and each name is a template variable, `artifact_metadata.KEY`, or one of
    /// <paramref name="secretNames"/>. Returns the problems, empty when valid.
    /// </summary>
    public static IReadOnlyList<string> Validate(string? template, IEnumerable<string> secretNames)
    {
        if (string.IsNullOrWhiteSpace(template)) return ["the payload is empty; it must be a JSON document"];
        try
        {
            using var _ = JsonDocument.Parse(template);
        }
        catch (JsonException ex)
        {
            return [$"the payload is not valid JSON: {ex.Message}"];
        }
        var secrets = secretNames.ToHashSet(StringComparer.Ordinal);
        var errors = new List<string>();
        foreach (var name in Names(template).Distinct())
        {
            if (!NamePattern().IsMatch(name))
                errors.Add($"${{{name}}} is not a valid placeholder name");
            else if (!TemplateVariables.IsKnown(name) && !secrets.Contains(name))
                errors.Add($"${{{name}}} is neither a template variable ({string.Join(", ", TemplateVariables.Names)}, artifact_metadata.KEY; for run automations {string.Join(", ", TemplateVariables.RunNames)}) nor a secret of this team");
        }
        if (UnterminatedPlaceholder(template))
            errors.Add("the payload has a `${` without its closing `}`; write `$${` for a literal `${`");
        return errors;
    }

    private static bool UnterminatedPlaceholder(string template)
    {
        using var doc = JsonDocument.Parse(template);
        var bad = false;
        void Check(string s)
        {
            var stripped = Placeholder().Replace(s, "");
            if (stripped.Contains("${", StringComparison.Ordinal)) bad = true;
        }
        void Walk(JsonElement e)
        {
            switch (e.ValueKind)
            {
                case JsonValueKind.Object: foreach (var p in e.EnumerateObject()) { Check(p.Name); Walk(p.Value); } break;
                case JsonValueKind.Array: foreach (var i in e.EnumerateArray()) Walk(i); break;
                case JsonValueKind.String: Check(e.GetString()!); break;
            }
        }
        Walk(doc.RootElement);
        return bad;
    }
}
