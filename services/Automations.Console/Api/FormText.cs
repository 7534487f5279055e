using System.Text.RegularExpressions;

namespace Automations.Console.Api;

/// <summary>
/// Turns the Api's problem+json into the form's language: each error under the field it names (by the form's label),
/// no HTTP methods or API paths, no JSON parser positions, "team" where the Api says "entity".
/// </summary>
public static partial class FormText
{
    [GeneratedRegex(@"\s*\(?\b(?:GET|POST|PUT|PATCH|DELETE) /[^\s);]*\)?", RegexOptions.CultureInvariant)]
    private static partial Regex ApiPath();

    [GeneratedRegex(@"LineNumber:|BytePositionInLine|is an invalid start of a value|JSON value could not be converted", RegexOptions.CultureInvariant)]
    private static partial Regex ParserText();

    public static string Clean(string message)
    {
        if (ParserText().IsMatch(message)) return "is not valid JSON";
        var s = ApiPath().Replace(message, "");
        s = s.Replace("in this entity", "in this team", StringComparison.Ordinal).Replace("this entity", "this team", StringComparison.Ordinal);
        s = Regex.Replace(s, @"\s*;\s*(?=[.;]|$)", "", RegexOptions.CultureInvariant).Trim();
        s = Regex.Replace(s, @"[;,]\s*$", "", RegexOptions.CultureInvariant);
        return s.Length == 0 ? "The request was refused." : s;
    }

    /// <summary>"must be …" becomes "Name must be …"; a whole sentence keeps its own subject.</summary>
    public static string ForField(string label, string message)
    {
        var s = Clean(message);
        return s.StartsWith("must ", StringComparison.Ordinal) || s.StartsWith("is ", StringComparison.Ordinal) || s.StartsWith("may ", StringComparison.Ordinal)
            || s.StartsWith("cannot ", StringComparison.Ordinal) || s.StartsWith("should ", StringComparison.Ordinal)
            ? $"{label} {s}"
            : char.ToUpperInvariant(s[0]) + s[1..];
    }

    /// <summary>
    /// Splits a refusal into errors by the form's field ids (for the fields the form has, keyed by the Api's names in
    /// <paramref name="fields"/>: Api name → (field id, label)) and one message for the rest.
    /// </summary>
    public static (Dictionary<string, string> Errors, string Message) Refusal(ApiAnswer answer, IReadOnlyDictionary<string, (string Id, string Label)> fields)
    {
        var errors = new Dictionary<string, string>(StringComparer.Ordinal);
        var rest = new List<string>();
        foreach (var (field, message) in answer.FieldErrors())
        {
            var match = fields.FirstOrDefault(f => string.Equals(f.Key, field, StringComparison.OrdinalIgnoreCase)
                                                   || field.StartsWith(f.Key + ".", StringComparison.OrdinalIgnoreCase));
            if (match.Key is not null)
                errors[match.Value.Id] = errors.TryGetValue(match.Value.Id, out var before) ? before + " " + ForField(match.Value.Label, message) : ForField(match.Value.Label, message);
            else rest.Add(ForField("The form", message));
        }
        if (errors.Count == 0 && rest.Count == 0) rest.Add(Clean(answer.Detail));
        var summary = errors.Count > 0 && rest.Count == 0
            ? (errors.Count == 1 ? "Please correct the field marked below." : $"Please correct the {errors.Count} fields marked below.")
            : string.Join(" ", rest);
        return (errors, summary);
    }
}
