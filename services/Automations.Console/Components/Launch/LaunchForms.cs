namespace Automations.Console.Components.Launch;

/// <summary>A queue's or a job's form: a name (letters, digits, '.', '_', '-') and an optional description.</summary>
public sealed class NamedForm
{
    public string? Name { get; set; }
    public string? Description { get; set; }

    public string TrimmedName => Name?.Trim() ?? "";
    public string? TrimmedDescription => string.IsNullOrWhiteSpace(Description) ? null : Description.Trim();

    public Dictionary<string, string> Values => new() { ["name"] = Name ?? "", ["description"] = Description ?? "" };

    public static NamedForm From(Session.FlashMessage? f) => new() { Name = f?.Value("name"), Description = f?.Value("description") };
}

/// <summary>A job version's form: the command, its arguments one per line, the default run config as a JSON object.</summary>
public sealed class VersionForm
{
    public string? Command { get; set; }
    public string? Args { get; set; }
    public string? Config { get; set; }

    /// <summary>One argument per line, as typed (no shell splits them); blank lines are skipped.</summary>
    public IReadOnlyList<string> ArgList => (Args ?? "").Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n')
        .Where(a => a.Trim().Length > 0).ToList();

    public string ConfigText => string.IsNullOrWhiteSpace(Config) ? "{}" : Config.Trim();

    public Dictionary<string, string> Values => new() { ["command"] = Command ?? "", ["args"] = Args ?? "", ["config"] = Config ?? "" };
}
