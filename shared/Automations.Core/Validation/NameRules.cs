using System.Text.RegularExpressions;

namespace Automations.Core.Validation;

/// <summary>
/// The names an event and an automation must agree on, in one place for the Api, Ingestion (HTTP and AMQP), the console
/// and the producers' JSON schema: an automation saved under a name no event can carry would never fire, and these
/// names end up in URLs, template values (`entity/project/collection:alias`) and logs.
/// </summary>
public static partial class NameRules
{
    public const int MaxEntityLength = 64;
    public const int MaxProjectLength = 128;
    public const int MaxCollectionLength = 128;

    private const string EntityName = "[A-Za-z0-9][A-Za-z0-9_.-]{0,63}";
    private const string ProjectName = "[A-Za-z0-9][A-Za-z0-9_.-]{0,127}";
    private const string CollectionName = "[A-Za-z0-9_.-]{1,128}";

    /// <summary>A team (W&amp;B entity): a letter or digit, then letters, digits, '_', '.', '-'. ECMAScript syntax, as in the JSON schema and HTML.</summary>
    public const string EntityPattern = "^" + EntityName + "$";

    /// <summary>A project: a letter or digit, then letters, digits, '_', '.', '-'.</summary>
    public const string ProjectPattern = "^" + ProjectName + "$";

    /// <summary>An artifact collection (W&amp;B's artifact name rule): letters, digits, '_', '.', '-'.</summary>
    public const string CollectionPattern = "^" + CollectionName + "$";

    public const string EntityRule = "must be 1 to 64 letters, digits, '_', '.' or '-', starting with a letter or digit";
    public const string ProjectRule = "must be 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit";
    public const string CollectionRule = "must be 1 to 128 letters, digits, '_', '.' or '-' (W&B's artifact name rule)";

    // \z, not $: in .NET, $ also matches before a final newline ("acme\n").
    [GeneratedRegex("^" + EntityName + @"\z")]
    private static partial Regex Entity();

    [GeneratedRegex("^" + ProjectName + @"\z")]
    private static partial Regex Project();

    [GeneratedRegex("^" + CollectionName + @"\z")]
    private static partial Regex Collection();

    /// <returns>null when the name is a valid entity name; else the rule it breaks.</returns>
    public static string? CheckEntity(string? name) => name is not null && Entity().IsMatch(name) ? null : EntityRule;

    public static string? CheckProject(string? name) => name is not null && Project().IsMatch(name) ? null : ProjectRule;

    public static string? CheckCollection(string? name) => name is not null && Collection().IsMatch(name) ? null : CollectionRule;
}
