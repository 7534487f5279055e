using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using Automations.Api.Access;
using Automations.Api.Http;
using Automations.Api.Secrets;
using Automations.Core.Validation;
using Automations.ServiceDefaults.Http;
using Npgsql;

namespace Automations.Api.TeamConfig;

/// <summary>
/// Automations as code (docs/automations-as-code.md): a team's webhooks, integrations, launch queues, project
/// and team automations as one YAML (or JSON) file. `export` writes the live state as such a file; `plan` says what applying a
/// file would create, update or delete, changing nothing; `apply` makes the live state equal to the file in one
/// transaction, all or nothing. Team admins only: the file covers objects only admins may change.
/// </summary>
public static partial class ConfigEndpoints
{
    public const string YamlMediaType = "application/yaml";

    /// <summary>The file's binding: unknown fields are refused (a misspelt filter must not silently match everything).</summary>
    private static readonly JsonSerializerOptions FileOptions = new(Persistence.Json.Options) { UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow };

    public sealed class Plan
    {
        public string Entity { get; set; } = "";
        /// <summary>The live state's version this plan was made against: pass it to apply to refuse a state changed since.</summary>
        public string Version { get; set; } = "";
        public bool Applied { get; set; }
        /// <summary>After an apply: the live state's version now.</summary>
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public string? VersionAfter { get; set; }
        public bool Changed { get; set; }
        public Dictionary<string, int> Summary { get; set; } = new();
        public List<ConfigSync.Change> Changes { get; set; } = [];
    }

    public static RouteGroupBuilder MapConfig(this RouteGroupBuilder entity)
    {
        var g = entity.MapGroup("/config").WithTags("Automations as code").RequireEntityAdmin();
        g.MapGet("/export", ExportAsync).Produces<string>(StatusCodes.Status200OK, YamlMediaType)
            .WithSummary("The team's webhooks, integrations, queues, project and team automations as a configuration file (YAML; ?format=json for JSON). No secret value is in it.");
        g.MapPost("/plan", PlanAsync).Accepts<ConfigFile>(YamlMediaType, "application/json").Produces<Plan>().ProducesValidationProblem()
            .WithSummary("What applying the file would change (create, update, delete, unchanged; ?prune=true deletes what it does not name), changing nothing.");
        g.MapPost("/apply", ApplyAsync).Accepts<ConfigFile>(YamlMediaType, "application/json").Produces<Plan>().ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Make the live state equal to the file, all or nothing. ?version= (from plan) refuses with 409 when the state changed since, unless ?force=true.");
        return entity;
    }

    private static async Task<IResult> ExportAsync(HttpContext http, NpgsqlDataSource db, string? format, CancellationToken ct)
    {
        var caller = http.Caller();
        await using var c = await db.OpenConnectionAsync(ct);
        var live = await LiveState.LoadAsync(c, null, caller.EntityId, caller.Entity);
        var file = live.ToFile();
        http.Response.Headers["X-Config-Version"] = live.Version();
        if (string.Equals(format, "json", StringComparison.OrdinalIgnoreCase)) return Results.Text(file.ToJsonString(Persistence.Json.Options), "application/json", Encoding.UTF8);
        if (format is not null && !string.Equals(format, "yaml", StringComparison.OrdinalIgnoreCase)) return Problems.Invalid("format", "must be yaml or json");
        var header = $"The configuration of team {caller.Entity}, exported {DateTimeOffset.UtcNow:yyyy-MM-ddTHH:mm:ssZ} (version {live.Version()}).\n" +
                     "Secret values are not in it: webhooks name their secrets, integrations the secret holding their URL.\n" +
                     "Schema: shared/Automations.Contracts/schemas/team-config.schema.json";
        return Results.Text(YamlText.FromJson(file, header), YamlMediaType, Encoding.UTF8);
    }

    private static Task<IResult> PlanAsync(HttpContext http, NpgsqlDataSource db, MasterKeys keys, bool? prune, CancellationToken ct) =>
        RunAsync(http, db, keys, new ConfigSync.Options(Apply: false, prune ?? false, null, false), ct);

    private static Task<IResult> ApplyAsync(HttpContext http, NpgsqlDataSource db, MasterKeys keys, bool? prune, string? version, bool? force, CancellationToken ct) =>
        RunAsync(http, db, keys, new ConfigSync.Options(Apply: true, prune ?? false, string.IsNullOrWhiteSpace(version) ? null : version.Trim(), force ?? false), ct);

    private static async Task<IResult> RunAsync(HttpContext http, NpgsqlDataSource db, MasterKeys keys, ConfigSync.Options options, CancellationToken ct)
    {
        var (file, lines, error) = await ReadFileAsync(http.Request, ct);
        if (file is null) return error!;
        var caller = http.Caller();
        var outcome = await ConfigSync.RunAsync(http, db, keys.Cipher, caller, file, options, ct);
        if (outcome.StaleVersion is { } now)
            return Problems.Conflict("version",
                "The team's configuration changed since the plan this apply names; plan again (or apply with force to overwrite it).",
                new Dictionary<string, object?> { ["version"] = now });
        if (outcome.Collision is { } collision) return Problems.Conflict("body", collision);
        if (outcome.Errors is { Any: true } errors) return errors.ToResult(new Dictionary<string, object?> { ["lines"] = LinesOf(errors, lines) });
        var plan = new Plan
        {
            Entity = caller.Entity, Version = outcome.Version, Applied = options.Apply, VersionAfter = outcome.VersionAfter, Changes = outcome.Changes,
            Changed = outcome.Changes.Exists(ch => ch.Action is ConfigSync.Actions.Create or ConfigSync.Actions.Update or ConfigSync.Actions.Delete),
        };
        foreach (var action in new[] { ConfigSync.Actions.Create, ConfigSync.Actions.Update, ConfigSync.Actions.Delete, ConfigSync.Actions.Unchanged, ConfigSync.Actions.Unmanaged })
            plan.Summary[action] = outcome.Changes.Count(ch => ch.Action == action);
        return Results.Ok(plan);
    }

    private static IResult Invalid(string field, string message, IReadOnlyDictionary<string, int> lines)
    {
        var errors = new Errors().Add(field, message);
        return errors.ToResult(new Dictionary<string, object?> { ["lines"] = LinesOf(errors, lines) });
    }

    [GeneratedRegex("^The JSON property '([^']{1,200})' could not be mapped")]
    private static partial Regex UnmappedProperty();

    /// <summary>The line of each error's path in the file (or of the nearest enclosing node), for editors and the CLI.</summary>
    private static Dictionary<string, int> LinesOf(Errors errors, IReadOnlyDictionary<string, int> lines)
    {
        var found = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (field, _) in errors.Items)
        {
            for (var path = field; path.Length > 0; path = Parent(path))
                if (lines.TryGetValue(path, out var line)) { found[field] = line; break; }
        }
        return found;
    }

    private static string Parent(string path)
    {
        var cut = Math.Max(path.LastIndexOf('.'), path.LastIndexOf('['));
        return cut <= 0 ? "" : path[..cut];
    }

    /// <summary>
    /// The body as a file: JSON when the content type says so, otherwise YAML (at most the body limit, UTF-8, the JSON
    /// subset of YAML: see <see cref="YamlText"/>); then, as every JSON body, storable text in every string and the binding.
    /// </summary>
    private static async Task<(ConfigFile? File, IReadOnlyDictionary<string, int> Lines, IResult? Error)> ReadFileAsync(HttpRequest request, CancellationToken ct)
    {
        IReadOnlyDictionary<string, int> lines = new Dictionary<string, int>();
        var (body, error) = await JsonBody.ReadBytesAsync(request, JsonBody.DefaultMaxBytes, ct);
        if (body is null) return (null, lines, error);
        byte[] json;
        if (request.ContentType?.Contains("json", StringComparison.OrdinalIgnoreCase) == true) json = body;
        else
        {
            string text;
            try
            {
                text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(body);
            }
            catch (DecoderFallbackException)
            {
                return (null, lines, Invalid("body", "is not UTF-8 text", lines));
            }
            try
            {
                (json, lines) = YamlText.ToJson(text);
            }
            catch (YamlText.RefusedException ex)
            {
                return (null, lines, Invalid(ex.Field, ex.Message, new Dictionary<string, int> { [ex.Field] = ex.Line }));
            }
        }
        if (JsonText.Check(json) is { } problem) return (null, lines, Invalid(problem.Field, problem.Message, lines));
        try
        {
            var file = JsonSerializer.Deserialize<ConfigFile>(json, FileOptions);
            return file is null ? (null, lines, Invalid("body", "a mapping (the configuration file) is required", lines)) : (file, lines, null);
        }
        catch (JsonException ex)
        {
            var field = JsonBody.FieldOf(ex.Path);
            if (UnmappedProperty().Match(ex.Message) is { Success: true } unknown)
            {
                var name = StorableText.Scrub(unknown.Groups[1].Value);
                if (!field.EndsWith(name, StringComparison.Ordinal)) field = field == "body" ? name : $"{field}.{name}";
                return (null, lines, Invalid(field, "is not a field of this object (see shared/Automations.Contracts/schemas/team-config.schema.json)", lines));
            }
            return (null, lines, field == "body"
                ? Invalid("body", $"is not a valid configuration file (line {ex.LineNumber + 1})", lines)
                : Invalid(field, "has the wrong type or format for this field", lines));
        }
    }
}
