using System.Text.Json;
using Automations.Api.Access;
using Automations.Api.AuditTrail;
using Automations.Api.Http;
using Dapper;
using Npgsql;

namespace Automations.Api.Launch;

/// <summary>
/// Launch jobs: a name and numbered, immutable versions, each a run template (command, arguments, default config).
/// Members create jobs and versions (they are what ML engineers run); deleting a job is for admins.
/// </summary>
public static class JobsEndpoints
{
    public sealed class JobBody
    {
        public string? Name { get; set; }
        public string? Description { get; set; }
    }

    public sealed class VersionBody
    {
        public string? Command { get; set; }
        public string[]? Args { get; set; }
        public JsonElement? DefaultConfig { get; set; }
    }

    public sealed class Job
    {
        public Guid Id { get; set; }
        public string Name { get; set; } = "";
        public string? Description { get; set; }
        public int? LatestVersion { get; set; }
        public DateTimeOffset CreatedAt { get; set; }
    }

    public sealed record JobVersion(int Version, string Command, string[] Args, JsonElement DefaultConfig, DateTimeOffset CreatedAt);

    private sealed class VersionRow
    {
        public int Version { get; set; }
        public string Command { get; set; } = "";
        public string Args { get; set; } = "[]";
        public string DefaultConfig { get; set; } = "{}";
        public DateTimeOffset CreatedAt { get; set; }

        public JobVersion ToView() => new(Version, Command, JsonSerializer.Deserialize<string[]>(Args) ?? [], JsonSerializer.Deserialize<JsonElement>(DefaultConfig), CreatedAt);
    }

    private const string Select =
        """
        select j.id as Id, j.name as Name, j.description as Description, j.created_at as CreatedAt,
               (select max(version) from control.launch_job_versions v where v.job_id = j.id) as LatestVersion
        from control.launch_jobs j where j.entity_id = @entityId
        """;

    public static RouteGroupBuilder MapJobs(this RouteGroupBuilder entity)
    {
        var g = entity.MapGroup("/jobs").WithTags("Launch jobs");
        g.MapGet("", ListAsync).WithSummary("List launch jobs with their latest version.");
        g.MapGet("/{id:guid}", GetAsync).WithSummary("One job with all its versions.");
        g.MapPost("", CreateAsync).Accepts<JobBody>("application/json").Produces<Job>(StatusCodes.Status201Created).ProducesValidationProblem()
            .WithSummary("Create a job {name, description?}.");
        g.MapPut("/{id:guid}", UpdateAsync).Accepts<JobBody>("application/json").ProducesValidationProblem().WithSummary("Rename or describe a job.");
        g.MapDelete("/{id:guid}", DeleteAsync).RequireEntityAdmin().ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Delete a job and its versions; 409 naming the automations that use it.");
        g.MapPost("/{id:guid}/versions", AddVersionAsync).Accepts<VersionBody>("application/json").Produces<JobVersion>(StatusCodes.Status201Created)
            .ProducesValidationProblem().WithSummary("Add the next version {command, args[], defaultConfig{}}.");
        g.MapGet("/{id:guid}/versions/{version:int}", GetVersionAsync).WithSummary("One job version.");
        return entity;
    }

    private static async Task<IResult> ListAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        return Results.Ok(await c.QueryAsync<Job>(Select + " order by j.name", new { entityId = http.Caller().EntityId }));
    }

    private static async Task<IResult> GetAsync(Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        var job = await c.QuerySingleOrDefaultAsync<Job>(Select + " and j.id = @id", new { entityId = http.Caller().EntityId, id });
        if (job is null) return Problems.NotFound("The job");
        var versions = await c.QueryAsync<VersionRow>(
            "select version as Version, command as Command, args::text as Args, default_config::text as DefaultConfig, created_at as CreatedAt from control.launch_job_versions where job_id = @id order by version",
            new { id });
        return Results.Ok(new { job.Id, job.Name, job.Description, job.LatestVersion, job.CreatedAt, versions = versions.Select(v => v.ToView()) });
    }

    private static Errors Check(JobBody body)
    {
        var errors = new Errors();
        Names.Check(errors, "name", body.Name, Names.Slug(), "may contain letters, digits, '.', '_' and '-' only");
        if (body.Description is { Length: > 1000 }) errors.Add("description", "must be at most 1000 characters");
        return errors;
    }

    private static IResult Duplicate(string? name) => Problems.Conflict("name", $"A job named '{name}' already exists in this entity.");

    private static async Task<IResult> CreateAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<JobBody>(http.Request, ct);
        if (body is null) return error!;
        var errors = Check(body);
        if (errors.Any) return errors.ToResult();
        var entityId = http.Caller().EntityId;
        var id = Guid.CreateVersion7();
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var inserted = await c.ExecuteAsync(
            "insert into control.launch_jobs (id, entity_id, name, description) values (@id, @entityId, @Name, @Description) on conflict (entity_id, name) do nothing",
            new { id, entityId, body.Name, body.Description }, tx);
        if (inserted == 0) return Duplicate(body.Name);
        var job = await c.QuerySingleAsync<Job>(Select + " and j.id = @id", new { entityId, id }, tx);
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Job, AuditActions.Create, id, job.Name, null, null, job);
        await tx.CommitAsync(ct);
        return Results.Created($"{http.Request.Path}/{id}", job);
    }

    private static async Task<IResult> UpdateAsync(Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<JobBody>(http.Request, ct);
        if (body is null) return error!;
        var errors = Check(body);
        if (errors.Any) return errors.ToResult();
        var entityId = http.Caller().EntityId;
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var before = await c.QuerySingleOrDefaultAsync<Job>(Select + " and j.id = @id for update of j", new { entityId, id }, tx);
        if (before is null) return Problems.NotFound("The job");
        try
        {
            await c.ExecuteAsync("update control.launch_jobs set name = @Name, description = @Description where id = @id and entity_id = @entityId",
                new { id, entityId, body.Name, body.Description }, tx);
        }
        catch (PostgresException ex) when (Names.IsUniqueViolation(ex))
        {
            return Duplicate(body.Name);
        }
        var after = await c.QuerySingleAsync<Job>(Select + " and j.id = @id", new { entityId, id }, tx);
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Job, AuditActions.Update, id, after.Name, null, before, after);
        await tx.CommitAsync(ct);
        return Results.Ok(after);
    }

    private static async Task<IResult> DeleteAsync(Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var entityId = http.Caller().EntityId;
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var found = await c.QuerySingleOrDefaultAsync<Job>(Select + " and j.id = @id for update of j", new { id, entityId }, tx);
        if (found is null) return Problems.NotFound("The job");
        var users = (await c.QueryAsync<string>("select coalesce(project, '(team)') || '/' || name from control.automations where job_id = @id order by 1", new { id }, tx)).ToList();
        if (users.Count > 0)
            return Problems.Conflict("id", $"The job is used by automations {string.Join(", ", users)}; delete or change them first.",
                new Dictionary<string, object?> { ["automations"] = users });
        await c.ExecuteAsync("delete from control.launch_jobs where id = @id", new { id }, tx);
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Job, AuditActions.Delete, id, found.Name, null, found, null);
        await tx.CommitAsync(ct);
        return Results.NoContent();
    }

    private static async Task<IResult> AddVersionAsync(Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<VersionBody>(http.Request, ct);
        if (body is null) return error!;
        var errors = new Errors();
        if (string.IsNullOrWhiteSpace(body.Command)) errors.Add("command", "is required");
        else if (body.Command.Length > 4096) errors.Add("command", "must be at most 4096 characters");
        if (body.Args is { } args && args.Any(a => a is null)) errors.Add("args", "must be an array of strings");
        if (body.DefaultConfig is { } cfg && cfg.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null or JsonValueKind.Undefined))
            errors.Add("defaultConfig", "must be a JSON object");
        if (errors.Any) return errors.ToResult();

        var entityId = http.Caller().EntityId;
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        // Locking the job row serialises concurrent version numbering.
        var job = await c.QuerySingleOrDefaultAsync<string?>("select name from control.launch_jobs where id = @id and entity_id = @entityId for update", new { id, entityId }, tx);
        if (job is null) return Problems.NotFound("The job");
        var row = await c.QuerySingleAsync<VersionRow>(
            """
            insert into control.launch_job_versions (job_id, version, command, args, default_config)
            values (@id, (select coalesce(max(version), 0) + 1 from control.launch_job_versions where job_id = @id), @Command, @args::jsonb, @config::jsonb)
            returning version as Version, command as Command, args::text as Args, default_config::text as DefaultConfig, created_at as CreatedAt
            """,
            new
            {
                id, body.Command,
                args = JsonSerializer.Serialize(body.Args ?? []),
                config = body.DefaultConfig is { ValueKind: JsonValueKind.Object } o ? o.GetRawText() : "{}",
            }, tx);
        var version = row.ToView();
        // The target is the job; the version is in the view.
        await Audit.Of(http, tx).RecordAsync(AuditKinds.JobVersion, AuditActions.Create, id, job, null, null, new { job, version.Version, version.Command, version.Args, version.DefaultConfig, version.CreatedAt });
        await tx.CommitAsync(ct);
        return Results.Created($"{http.Request.Path}/{row.Version}", version);
    }

    private static async Task<IResult> GetVersionAsync(Guid id, int version, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<VersionRow>(
            """
            select v.version as Version, v.command as Command, v.args::text as Args, v.default_config::text as DefaultConfig, v.created_at as CreatedAt
            from control.launch_job_versions v join control.launch_jobs j on j.id = v.job_id
            where j.id = @id and j.entity_id = @entityId and v.version = @version
            """, new { id, version, entityId = http.Caller().EntityId });
        return row is null ? Problems.NotFound("The job version") : Results.Ok(row.ToView());
    }
}
