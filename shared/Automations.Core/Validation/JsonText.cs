using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Unicode;
using Automations.Core.Events;

namespace Automations.Core.Validation;

/// <summary>
/// The rule for every JSON text a caller sends (HTTP bodies of every service, raw AMQP events), checked in one pass
/// before anything binds it: UTF-8, at most <see cref="MaxDepth"/> levels, every string and property name
/// <see cref="StorableText"/>, every number a finite 64-bit float written in at most <see cref="MaxNumberLength"/>
/// characters. Whatever passes can be stored as text or jsonb and read back by every consumer; a refusal names where
/// the problem is, as a path (`description`, `action.payload`, `args[1]`, `metadata.head`), or `body` for the text as a whole.
/// </summary>
public static class JsonText
{
    public const int MaxDepth = 64;
    public const int MaxNumberLength = 100;
    private const int MaxFieldLength = 200;

    /// <returns>null when the text passes; else the first problem found.</returns>
    public static FieldError? Check(ReadOnlySpan<byte> utf8) => Check(utf8, syntax: true);

    /// <summary>Only what the text holds, for a caller whose own parser reports syntax errors in its own words.</summary>
    /// <returns>null when every string and number passes or the text is not JSON at all.</returns>
    public static FieldError? CheckValues(ReadOnlySpan<byte> utf8) => Check(utf8, syntax: false);

    private static FieldError? Check(ReadOnlySpan<byte> utf8, bool syntax)
    {
        if (utf8.IsEmpty) return syntax ? new FieldError("body", "empty; send a JSON document") : null;
        var reader = new Utf8JsonReader(utf8, new JsonReaderOptions { MaxDepth = MaxDepth });
        var path = new List<Frame>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.StartObject:
                        path.Add(new Frame(false));
                        break;
                    case JsonTokenType.StartArray:
                        path.Add(new Frame(true));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        path.RemoveAt(path.Count - 1);
                        Next(path);
                        break;
                    case JsonTokenType.PropertyName:
                        if (StringProblem(ref reader) is { } nameProblem)
                            return new FieldError(Field(path, upTo: path.Count - 1), "has a property name that " + nameProblem);
                        path[^1] = path[^1] with { Name = reader.GetString() };
                        break;
                    case JsonTokenType.String:
                        if (StringProblem(ref reader) is { } problem) return new FieldError(Field(path, path.Count), problem);
                        Next(path);
                        break;
                    case JsonTokenType.Number:
                        if (NumberProblem(reader.ValueSpan) is { } numberProblem) return new FieldError(Field(path, path.Count), numberProblem);
                        Next(path);
                        break;
                    default:
                        Next(path);
                        break;
                }
            }
        }
        catch (JsonException ex) when (syntax)
        {
            // The reader's own message may quote a character of the input (which could be part of a secret): say where only.
            var why = path.Count >= MaxDepth ? $"nested deeper than {MaxDepth} levels" : "not valid JSON";
            return new FieldError("body", $"{why} (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})");
        }
        catch (JsonException)
        {
            return null;
        }
        return null;
    }

    private readonly record struct Frame(bool IsArray, int Index = 0, string? Name = null);

    private static void Next(List<Frame> path)
    {
        if (path.Count > 0 && path[^1].IsArray) path[^1] = path[^1] with { Index = path[^1].Index + 1 };
    }

    /// <summary>The path of the value the first <paramref name="upTo"/> frames lead to; `body` for the root.</summary>
    private static string Field(List<Frame> path, int upTo)
    {
        var sb = new StringBuilder();
        for (var i = 0; i < upTo; i++)
        {
            var f = path[i];
            if (f.IsArray) sb.Append('[').Append(f.Index).Append(']');
            else if (f.Name is not null) sb.Append(sb.Length == 0 ? "" : ".").Append(StorableText.Scrub(f.Name));
        }
        if (sb.Length == 0) return "body";
        return sb.Length > MaxFieldLength ? sb.ToString(0, MaxFieldLength) + "…" : sb.ToString();
    }

    private static string? StringProblem(ref Utf8JsonReader reader)
    {
        // Escapes are ASCII, so the raw bytes must be UTF-8 whether or not the string has any.
        if (!Utf8.IsValid(reader.ValueSpan)) return "is not valid UTF-8";
        if (!reader.ValueIsEscaped) return null;
        try
        {
            return StorableText.Problem(reader.GetString());
        }
        catch (InvalidOperationException)
        {
            // System.Text.Json refuses an escaped lone surrogate (\ud800 without its pair) when unescaping.
            return StorableText.SurrogateProblem;
        }
    }

    private static string? NumberProblem(ReadOnlySpan<byte> number)
    {
        if (number.Length > MaxNumberLength) return $"is a number written in more than {MaxNumberLength} characters";
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            return "is a number beyond the range of a 64-bit float (about ±1.8e308)";
        if (value == 0 && number[..IndexOfExponent(number)].IndexOfAnyInRange((byte)'1', (byte)'9') >= 0)
            return "is a number too close to zero for a 64-bit float";
        return null;
    }

    private static int IndexOfExponent(ReadOnlySpan<byte> number)
    {
        var e = number.IndexOfAny((byte)'e', (byte)'E');
        return e < 0 ? number.Length : e;
    }
}
