using System.Buffers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Automations.Core.Templates;

/// <summary>
/// Payload templates: JSON whose strings (values or property names) hold `${name}` placeholders.
/// Rendering walks the parsed JSON and rewrites each string, so a substituted value always stays inside its string
/// (quotes, backslashes, newlines, `}` and emoji are escaped by the JSON writer) and the result always parses.
/// Rendering is single-pass: a substituted value is never scanned again. `$${` in a template is a literal `${`.
///
/// Two stages use it. Rules renders event variables and leaves secret names as `${NAME}`; there, any `${` that came
/// from a value (or from a literal `$${`) is written as `$${`, so the sender's stage, which fills in secrets, can never
/// be made to expand a secret by an event field. The sender renders with <see cref="RenderMode.Final"/>: `$${` becomes `${`.
/// </summary>
public static partial class PayloadTemplate
{
    public enum RenderMode
    {
        /// <summary>Unresolved names stay `${name}`; literal `${` is kept escaped as `$${` for a later stage.</summary>
        Intermediate,
        /// <summary>Unresolved names stay `${name}`; `$${` becomes `${`.</summary>
        Final,
    }

    [GeneratedRegex(@"\$\$\{|\$\{([^{}]*)\}")]
    private static partial Regex Placeholder();

    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z0-9_.\-]+)?$")]
    private static partial Regex NamePattern();

    /// <summary>Renders <paramref name="template"/>; <paramref name="resolve"/> returns null for a name it does not know (left as is).</summary>
    public static string Render(string template, Func<string, string?> resolve, RenderMode mode)
    {
        using var doc = JsonDocument.Parse(template, new JsonDocumentOptions { MaxDepth = 64 });
        var buffer = new ArrayBufferWriter<byte>(template.Length + 256);
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
            Write(doc.RootElement, writer, resolve, mode);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    public static string Render(string template, IReadOnlyDictionary<string, string> values, RenderMode mode) =>
        Render(template, name => values.TryGetValue(name, out var v) ? v : null, mode);

    private static void Write(JsonElement e, Utf8JsonWriter w, Func<string, string?> resolve, RenderMode mode)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                w.WriteStartObject();
                foreach (var p in e.EnumerateObject())
                {
                    w.WritePropertyName(RenderString(p.Name, resolve, mode));
                    Write(p.Value, w, resolve, mode);
                }
                w.WriteEndObject();
                break;
            case JsonValueKind.Array:
                w.WriteStartArray();
                foreach (var item in e.EnumerateArray()) Write(item, w, resolve, mode);
                w.WriteEndArray();
                break;
            case JsonValueKind.String:
                w.WriteStringValue(RenderString(e.GetString()!, resolve, mode));
                break;
            default:
                e.WriteTo(w);
                break;
        }
    }

    /// <summary>Substitutes the placeholders of one string.</summary>
    public static string RenderString(string s, Func<string, string?> resolve, RenderMode mode)
    {
        if (!s.Contains('$', StringComparison.Ordinal)) return s;
        return Placeholder().Replace(s, m =>
        {
            if (m.Value == "$${") return mode == RenderMode.Final ? "${" : "$${";
            var value = resolve(m.Groups[1].Value);
            if (value is null) return m.Value;
            return mode == RenderMode.Intermediate ? value.Replace("${", "$${", StringComparison.Ordinal) : value;
        });
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
                errors.Add($"${{{name}}} is neither a template variable ({string.Join(", ", TemplateVariables.Names)}, artifact_metadata.KEY) nor a secret of this team");
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
