using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Automations.Api.TeamConfig;

/// <summary>
/// YAML in and out, as JSON: a configuration file is read into the JSON the API binds (one set of field names, one
/// binder, one set of rules), and an export is written from JSON. Only the JSON-shaped subset of YAML is accepted:
/// no anchors or aliases (a few lines of aliases can expand to gigabytes), no tags, one document, mapping keys that are
/// plain text and given once, bounded depth and node count. Plain scalars follow YAML 1.2's core schema (`true`,
/// `null`, `12`, `1.5`); quoted scalars are always text. Errors carry a line and the path of the node (`automations[2].event`)
/// and never quote the input.
/// </summary>
public static partial class YamlText
{
    public const int MaxDepth = 32;
    public const int MaxNodes = 50_000;

    public sealed class RefusedException(string field, string message, int line) : Exception(message)
    {
        public string Field { get; } = field;
        public int Line { get; } = line;
    }

    /// <summary>The document as JSON (UTF-8), and the line of every node by its path.</summary>
    /// <exception cref="RefusedException">Not YAML, or outside the accepted subset.</exception>
    public static (byte[] Json, IReadOnlyDictionary<string, int> Lines) ToJson(string text)
    {
        var lines = new Dictionary<string, int>(StringComparer.Ordinal);
        using var stream = new MemoryStream();
        try
        {
            using (var w = new Utf8JsonWriter(stream, new JsonWriterOptions { MaxDepth = MaxDepth + 2, SkipValidation = false }))
            {
                var reader = new Reader(new Parser(new StringReader(text)), w, lines);
                reader.Document();
            }
        }
        catch (YamlException ex)
        {
            // YamlDotNet's messages describe the syntax, not the text; the scrub is for the odd one that would quote it.
            throw new RefusedException("body", $"is not valid YAML: {Quoted().Replace(ex.Message, "'…'")}", (int)ex.Start.Line);
        }
        return (stream.ToArray(), lines);
    }

    private sealed class Reader(IParser p, Utf8JsonWriter w, Dictionary<string, int> lines)
    {
        private int _nodes;

        public void Document()
        {
            Expect<StreamStart>();
            if (p.Current is StreamEnd) throw new RefusedException("body", "is empty: a YAML mapping is required", 1);
            Expect<DocumentStart>();
            if (p.Current is DocumentEnd) throw new RefusedException("body", "is empty: a YAML mapping is required", Line(p.Current));
            Node("", 0);
            Expect<DocumentEnd>();
            if (p.Current is not StreamEnd) throw new RefusedException("body", "holds more than one YAML document", Line(p.Current));
        }

        private void Expect<T>() where T : ParsingEvent
        {
            if (p.Current is null) p.MoveNext();
            if (p.Current is not T) throw new RefusedException("body", "is not a single YAML document", Line(p.Current));
            p.MoveNext();
        }

        private static int Line(ParsingEvent? e) => e is null ? 0 : (int)e.Start.Line;

        private void Node(string path, int depth)
        {
            var e = p.Current!;
            var field = path.Length == 0 ? "body" : path;
            lines.TryAdd(field, Line(e));
            if (++_nodes > MaxNodes) throw new RefusedException(field, $"the file has more than {MaxNodes} nodes", Line(e));
            if (depth > MaxDepth) throw new RefusedException(field, $"is nested more than {MaxDepth} levels deep", Line(e));
            if (e is AnchorAlias) throw new RefusedException(field, "is an alias (*name): anchors and aliases are not accepted", Line(e));
            if (e is NodeEvent n)
            {
                if (!n.Anchor.IsEmpty) throw new RefusedException(field, "has an anchor (&name): anchors and aliases are not accepted", Line(e));
                if (!n.Tag.IsEmpty && !n.Tag.IsNonSpecific) throw new RefusedException(field, "has a tag (!name): tags are not accepted", Line(e));
            }
            switch (e)
            {
                case Scalar s:
                    Value(s, field);
                    p.MoveNext();
                    break;
                case SequenceStart:
                    w.WriteStartArray();
                    p.MoveNext();
                    for (var i = 0; p.Current is not SequenceEnd; i++) Node($"{path}[{i}]", depth + 1);
                    w.WriteEndArray();
                    p.MoveNext();
                    break;
                case MappingStart:
                    w.WriteStartObject();
                    p.MoveNext();
                    var keys = new HashSet<string>(StringComparer.Ordinal);
                    while (p.Current is not MappingEnd)
                    {
                        if (p.Current is not Scalar { Anchor.IsEmpty: true } key || !(key.Tag.IsEmpty || key.Tag.IsNonSpecific))
                            throw new RefusedException(field, "has a key with an anchor, a tag or structure: keys are plain text", Line(p.Current));
                        var child = path.Length == 0 ? key.Value : $"{path}.{key.Value}";
                        if (!keys.Add(key.Value)) throw new RefusedException(child, "is given twice", Line(key));
                        lines[child] = Line(key);
                        w.WritePropertyName(Checked(key.Value, child, key));
                        p.MoveNext();
                        Node(child, depth + 1);
                    }
                    w.WriteEndObject();
                    p.MoveNext();
                    break;
                default:
                    throw new RefusedException(field, "is not a YAML value", Line(e));
            }
        }

        private void Value(Scalar s, string field)
        {
            if (s.Style is not ScalarStyle.Plain) { w.WriteStringValue(Checked(s.Value, field, s)); return; }
            switch (Resolve(s.Value))
            {
                case Kind.Null: w.WriteNullValue(); break;
                case Kind.Bool: w.WriteBooleanValue(s.Value is "true" or "True" or "TRUE"); break;
                case Kind.Integer when long.TryParse(s.Value, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l):
                    w.WriteNumberValue(l);
                    break;
                case Kind.Integer or Kind.Float:
                    if (!double.TryParse(s.Value, NumberStyles.Float, CultureInfo.InvariantCulture, out var d) || !double.IsFinite(d))
                        throw new RefusedException(field, "is a number out of range", Line(s));
                    w.WriteNumberValue(d);
                    break;
                case Kind.NotFinite: throw new RefusedException(field, "is not a finite number (.inf and .nan are not accepted)", Line(s));
                default: w.WriteStringValue(Checked(s.Value, field, s)); break;
            }
        }

        /// <summary>Text JSON can hold (a `\uD800` escape in YAML makes a lone surrogate, which no JSON writer writes).</summary>
        private static string Checked(string value, string field, ParsingEvent at)
        {
            for (var i = 0; i < value.Length; i++)
            {
                if (char.IsHighSurrogate(value[i]) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1])) i++;
                else if (char.IsSurrogate(value[i])) throw new RefusedException(field, "holds an unpaired surrogate (not Unicode text)", Line(at));
            }
            return value;
        }
    }

    private enum Kind { String, Null, Bool, Integer, Float, NotFinite }

    [GeneratedRegex("'[^']*'")]
    private static partial Regex Quoted();

    [GeneratedRegex(@"^[-+]?[0-9]+\z")]
    private static partial Regex Integer();

    [GeneratedRegex(@"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?\z")]
    private static partial Regex Float();

    [GeneratedRegex(@"^([-+]?\.(inf|Inf|INF)|\.(nan|NaN|NAN))\z")]
    private static partial Regex NotFinite();

    /// <summary>YAML 1.1 words that older tools (and some editors) read as booleans or numbers: written quoted.</summary>
    [GeneratedRegex(@"^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF|0x[0-9a-fA-F]+|0o[0-7]+|[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+|[-+]?[0-9][0-9_]*(\.[0-9_]*)?)\z")]
    private static partial Regex Yaml11Special();

    private static Kind Resolve(string plain) => plain switch
    {
        "" or "~" or "null" or "Null" or "NULL" => Kind.Null,
        "true" or "True" or "TRUE" or "false" or "False" or "FALSE" => Kind.Bool,
        _ when Integer().IsMatch(plain) => Kind.Integer,
        _ when Float().IsMatch(plain) => Kind.Float,
        _ when NotFinite().IsMatch(plain) => Kind.NotFinite,
        _ => Kind.String,
    };

    /// <summary>A JSON document as block YAML; text that would read back as anything else is quoted, multi-line text is a literal block.</summary>
    public static string FromJson(JsonNode root, string? headerComment = null)
    {
        var sb = new StringBuilder();
        if (headerComment is not null)
            foreach (var line in headerComment.Split('\n')) sb.Append("# ").Append(line).Append('\n');
        using (var writer = new StringWriter(sb))
        {
            var emitter = new Emitter(writer, 2);
            emitter.Emit(new StreamStart());
            emitter.Emit(new DocumentStart(null, null, isImplicit: true));
            Emit(emitter, root);
            emitter.Emit(new DocumentEnd(isImplicit: true));
            emitter.Emit(new StreamEnd());
        }
        return sb.ToString();
    }

    private static void Emit(IEmitter emitter, JsonNode? node)
    {
        switch (node)
        {
            case null:
                emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, "null", ScalarStyle.Plain, true, false));
                break;
            case JsonObject o:
                emitter.Emit(new MappingStart(AnchorName.Empty, TagName.Empty, true, o.Count == 0 ? MappingStyle.Flow : MappingStyle.Block));
                foreach (var (key, value) in o)
                {
                    emitter.Emit(Text(key));
                    Emit(emitter, value);
                }
                emitter.Emit(new MappingEnd());
                break;
            case JsonArray a:
                emitter.Emit(new SequenceStart(AnchorName.Empty, TagName.Empty, true, a.Count == 0 ? SequenceStyle.Flow : SequenceStyle.Block));
                foreach (var item in a) Emit(emitter, item);
                emitter.Emit(new SequenceEnd());
                break;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                emitter.Emit(Text(v.GetValue<string>()));
                break;
            case JsonValue v:
                // Numbers and booleans as JSON writes them, which YAML reads back as the same.
                emitter.Emit(new Scalar(AnchorName.Empty, TagName.Empty, v.ToJsonString(), ScalarStyle.Plain, true, false));
                break;
        }
    }

    private static Scalar Text(string value)
    {
        var style = value.Contains('\n') ? ScalarStyle.Literal
            : Resolve(value) != Kind.String || Yaml11Special().IsMatch(value) ? ScalarStyle.DoubleQuoted
            : ScalarStyle.Any;
        return new Scalar(AnchorName.Empty, TagName.Empty, value, style, style is ScalarStyle.Any, true);
    }
}
