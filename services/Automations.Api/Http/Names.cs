using System.Text.RegularExpressions;

namespace Automations.Api.Http;

/// <summary>Name rules of the control plane's own objects (entity, project and collection names are in Core's NameRules). Anchored with \z: $ would also match before a final newline.</summary>
public static partial class Names
{
    public const int MaxLength = 64;

    /// <summary>Webhook and automation names (the W&amp;B rule): words of letters, digits, `_` and `-`, separated by spaces.</summary>
    [GeneratedRegex(@"^[-\w]+([ ]+[-\w]+)*\z")]
    public static partial Regex Display();

    /// <summary>Users, queues, jobs: no spaces (they appear in URLs and CLI arguments).</summary>
    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9._-]*\z")]
    public static partial Regex Slug();

    /// <summary>Secret names are `${NAME}` placeholders in payload templates.</summary>
    [GeneratedRegex(@"^[A-Za-z_][A-Za-z0-9_]*\z")]
    public static partial Regex Secret();

    public static void Check(Errors errors, string field, string? value, Regex pattern, string rule)
    {
        if (string.IsNullOrWhiteSpace(value)) errors.Add(field, "is required");
        else if (value.Length > MaxLength) errors.Add(field, $"must be at most {MaxLength} characters");
        else if (!pattern.IsMatch(value)) errors.Add(field, rule);
    }

    public static bool IsUniqueViolation(Exception ex) => ex is Npgsql.PostgresException { SqlState: "23505" };
}
