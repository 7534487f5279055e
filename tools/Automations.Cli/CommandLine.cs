using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Automations.Cli;

/// <summary>
/// `automations plan|apply|export`: a thin client of the Api's /config endpoints, which read the file, validate it with
/// the rules of every endpoint and apply it in one transaction. Exit codes for CI: 0 no change (plan) or applied
/// (apply, export), 2 changes planned, 1 error. Errors name the file, the line, the path in it and the rule.
/// </summary>
public static partial class CommandLine
{
    public const int NoChange = 0, Error = 1, ChangesPlanned = 2;

    public const string Usage =
        """
        automations plan   -f FILE [--prune] [--json]                        what applying FILE would change (exit 2 when anything)
        automations apply  -f FILE [--prune] [--version V | --force] [--json] make the team equal to FILE, all or nothing
        automations export [-o FILE]                                          the team as it is, as a file
        Options: --api URL (or AUTOMATIONS_API_URL; default http://127.0.0.1:5080), --key KEY (or AUTOMATIONS_API_KEY: an
        admin's API key), --entity TEAM (default: the file's `entity:`, else AUTOMATIONS_ENTITY).
        apply plans first and applies against that plan's version (refused if the team changed in between); --version V
        applies against an earlier plan's version instead, --force against whatever is there.
        """;

    private sealed record Arguments(string Command, string? File, string? Output, string Api, string? Key, string? Entity, bool Prune, bool Force,
        string? Version, bool Json);

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, Func<string, string?> env, HttpMessageHandler? handler = null)
    {
        if (Parse(args, env, stderr) is not { } a) return Error;
        if (string.IsNullOrEmpty(a.Key))
        {
            await stderr.WriteLineAsync("automations: no API key: pass --key or set AUTOMATIONS_API_KEY (an admin's key of the team)");
            return Error;
        }
        string? text = null;
        if (a.Command is "plan" or "apply")
        {
            if (a.File is null) { await stderr.WriteLineAsync($"automations {a.Command}: -f FILE is required\n{Usage}"); return Error; }
            try
            {
                text = await File.ReadAllTextAsync(a.File);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                await stderr.WriteLineAsync($"{a.File}: cannot be read: {ex.Message}");
                return Error;
            }
        }
        var entity = a.Entity ?? (text is null ? null : EntityOf(text)) ?? env("AUTOMATIONS_ENTITY");
        if (string.IsNullOrEmpty(entity))
        {
            await stderr.WriteLineAsync($"automations {a.Command}: which team? Pass --entity, set AUTOMATIONS_ENTITY, or write `entity: TEAM` in the file");
            return Error;
        }
        using var http = handler is null ? new HttpClient() : new HttpClient(handler, disposeHandler: false);
        http.BaseAddress = new Uri(a.Api.TrimEnd('/') + "/v1/entities/" + Uri.EscapeDataString(entity) + "/config/");
        http.Timeout = TimeSpan.FromMinutes(2);
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", a.Key);
        var source = a.File ?? entity;
        try
        {
            return a.Command switch
            {
                "export" => await ExportAsync(http, a, stdout, stderr),
                "plan" => await PlanAsync(http, a, text!, stdout, stderr),
                _ => await ApplyAsync(http, a, text!, stdout, stderr),
            };
        }
        catch (HttpRequestException ex)
        {
            await stderr.WriteLineAsync($"automations: cannot reach the Api at {a.Api}: {ex.Message}");
            return Error;
        }
        catch (TaskCanceledException)
        {
            await stderr.WriteLineAsync($"automations: the Api at {a.Api} did not answer in time");
            return Error;
        }
        catch (JsonException)
        {
            await stderr.WriteLineAsync($"{source}: the Api's answer is not what this tool expects (is --api the Automations Api?)");
            return Error;
        }
    }

    private static Arguments? Parse(string[] args, Func<string, string?> env, TextWriter stderr)
    {
        if (args.Length == 0 || args[0] is not ("plan" or "apply" or "export"))
        {
            stderr.WriteLine(Usage);
            return null;
        }
        string? file = null, output = null, key = env("AUTOMATIONS_API_KEY"), entity = null, version = null;
        string? api = env("AUTOMATIONS_API_URL") ?? "http://127.0.0.1:5080";
        bool prune = false, force = false, json = false;
        for (var i = 1; i < args.Length; i++)
        {
            string? Value()
            {
                if (i + 1 < args.Length) return args[++i];
                stderr.WriteLine($"automations: {args[i]} needs a value");
                return null;
            }
            switch (args[i])
            {
                case "-f" or "--file": file = Value(); if (file is null) return null; break;
                case "-o" or "--output": output = Value(); if (output is null) return null; break;
                case "--api": api = Value(); if (api is null) return null; break;
                case "--key": key = Value(); if (key is null) return null; break;
                case "--entity": entity = Value(); if (entity is null) return null; break;
                case "--version": version = Value(); if (version is null) return null; break;
                case "--prune": prune = true; break;
                case "--force": force = true; break;
                case "--json": json = true; break;
                default:
                    stderr.WriteLine($"automations: unknown option {args[i]}\n{Usage}");
                    return null;
            }
        }
        if (!Uri.TryCreate(api, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
        {
            stderr.WriteLine("automations: --api must be an http(s) URL");
            return null;
        }
        return new Arguments(args[0], file, output, api!, key, entity, prune, force, version, json);
    }

    /// <summary>The file's top-level `entity:` (the Api checks it again against the team of the request).</summary>
    public static string? EntityOf(string yaml) => TopLevelEntity().Match(yaml) is { Success: true } m ? m.Groups[2].Value : null;

    [GeneratedRegex("""^entity:[ \t]*(["']?)([A-Za-z0-9][A-Za-z0-9_.-]*)\1[ \t]*(#.*)?\r?$""", RegexOptions.Multiline)]
    private static partial Regex TopLevelEntity();

    private static async Task<int> ExportAsync(HttpClient http, Arguments a, TextWriter stdout, TextWriter stderr)
    {
        using var response = await http.GetAsync("export");
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) return await ProblemAsync(a.Entity ?? "export", body, response.StatusCode, stderr);
        if (a.Output is null) await stdout.WriteAsync(body);
        else
        {
            await File.WriteAllTextAsync(a.Output, body);
            await stdout.WriteLineAsync($"wrote {a.Output}");
        }
        return NoChange;
    }

    private static async Task<(HttpStatusCode Status, string Body)> PostAsync(HttpClient http, string path, string yaml)
    {
        using var content = new StringContent(yaml, Encoding.UTF8, "application/yaml");
        using var response = await http.PostAsync(path, content);
        return (response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    private static string Query(params (string Name, string? Value)[] parameters) =>
        string.Join("&", parameters.Where(p => p.Value is not null).Select(p => $"{p.Name}={Uri.EscapeDataString(p.Value!)}")) is { Length: > 0 } q ? "?" + q : "";

    private static async Task<int> PlanAsync(HttpClient http, Arguments a, string yaml, TextWriter stdout, TextWriter stderr)
    {
        var (status, body) = await PostAsync(http, "plan" + Query(("prune", a.Prune ? "true" : null)), yaml);
        if (status != HttpStatusCode.OK) return await ProblemAsync(a.File!, body, status, stderr);
        using var plan = JsonDocument.Parse(body);
        if (a.Json) await stdout.WriteLineAsync(body);
        else await PrintAsync(plan.RootElement, a.Prune, stdout);
        return plan.RootElement.GetProperty("changed").GetBoolean() ? ChangesPlanned : NoChange;
    }

    private static async Task<int> ApplyAsync(HttpClient http, Arguments a, string yaml, TextWriter stdout, TextWriter stderr)
    {
        var version = a.Version;
        if (version is null && !a.Force)
        {
            var (planStatus, planBody) = await PostAsync(http, "plan" + Query(("prune", a.Prune ? "true" : null)), yaml);
            if (planStatus != HttpStatusCode.OK) return await ProblemAsync(a.File!, planBody, planStatus, stderr);
            using var plan = JsonDocument.Parse(planBody);
            if (!plan.RootElement.GetProperty("changed").GetBoolean())
            {
                if (a.Json) await stdout.WriteLineAsync(planBody);
                else await stdout.WriteLineAsync($"team {plan.RootElement.GetProperty("entity").GetString()}: nothing to change");
                return NoChange;
            }
            version = plan.RootElement.GetProperty("version").GetString();
        }
        var (status, body) = await PostAsync(http,
            "apply" + Query(("prune", a.Prune ? "true" : null), ("version", a.Force ? null : version), ("force", a.Force ? "true" : null)), yaml);
        if (status != HttpStatusCode.OK) return await ProblemAsync(a.File!, body, status, stderr);
        using var applied = JsonDocument.Parse(body);
        if (a.Json) await stdout.WriteLineAsync(body);
        else
        {
            await PrintAsync(applied.RootElement, a.Prune, stdout);
            await stdout.WriteLineAsync($"Applied. The team's version is now {applied.RootElement.GetProperty("versionAfter").GetString()}.");
        }
        return NoChange;
    }

    private static async Task PrintAsync(JsonElement plan, bool prune, TextWriter stdout)
    {
        await stdout.WriteLineAsync($"team {plan.GetProperty("entity").GetString()} (version {plan.GetProperty("version").GetString()})");
        var unmanaged = 0;
        foreach (var change in plan.GetProperty("changes").EnumerateArray())
        {
            var action = change.GetProperty("action").GetString();
            if (action == "unmanaged") { unmanaged++; continue; }
            var sign = action switch { "create" => "+", "update" => "~", "delete" => "-", _ => "=" };
            var project = change.TryGetProperty("project", out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() + "/" : "";
            var fields = change.GetProperty("fields").EnumerateArray().Select(f => f.GetString()).ToList();
            var path = change.TryGetProperty("path", out var at) && at.ValueKind == JsonValueKind.String ? $"  ({at.GetString()})" : "";
            await stdout.WriteLineAsync($"  {sign} {change.GetProperty("kind").GetString()} {project}{change.GetProperty("name").GetString()}" +
                (fields.Count > 0 ? ": " + string.Join(", ", fields) : "") + path);
        }
        var s = plan.GetProperty("summary");
        if (unmanaged > 0)
            await stdout.WriteLineAsync($"  {unmanaged} object(s) of the team are not in the file and are left alone (--prune deletes them)");
        await stdout.WriteLineAsync($"{s.GetProperty("create").GetInt32()} to create, {s.GetProperty("update").GetInt32()} to update, " +
            $"{s.GetProperty("delete").GetInt32()} to delete, {s.GetProperty("unchanged").GetInt32()} unchanged" + (prune ? " (prune)" : ""));
    }

    /// <summary>A problem+json answer as `file:line: path: rule` lines (one per error).</summary>
    private static async Task<int> ProblemAsync(string source, string body, HttpStatusCode status, TextWriter stderr)
    {
        JsonElement problem;
        try
        {
            problem = JsonDocument.Parse(body).RootElement;
        }
        catch (JsonException)
        {
            await stderr.WriteLineAsync($"{source}: the Api answered {(int)status} {status}");
            return Error;
        }
        if (problem.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
        {
            var lines = problem.TryGetProperty("lines", out var l) && l.ValueKind == JsonValueKind.Object ? l : default;
            foreach (var field in errors.EnumerateObject())
            {
                var line = lines.ValueKind == JsonValueKind.Object && lines.TryGetProperty(field.Name, out var n) ? $":{n.GetInt32()}" : "";
                foreach (var message in field.Value.EnumerateArray())
                    await stderr.WriteLineAsync($"{source}{line}: {field.Name}: {message.GetString()}");
            }
            return Error;
        }
        var detail = problem.TryGetProperty("detail", out var d) ? d.GetString() : problem.TryGetProperty("title", out var t) ? t.GetString() : null;
        var at = problem.TryGetProperty("field", out var f) ? f.GetString() + ": " : "";
        await stderr.WriteLineAsync($"{source}: {at}{detail ?? $"the Api answered {(int)status} {status}"}" +
            (status == HttpStatusCode.Conflict && problem.TryGetProperty("version", out var v) ? $" (the team's version is now {v.GetString()})" : ""));
        return Error;
    }
}
