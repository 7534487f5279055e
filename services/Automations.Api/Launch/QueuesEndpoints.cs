using Automations.Api.Access;
using Automations.Api.AuditTrail;
using Automations.Api.Http;
using Dapper;
using Npgsql;

namespace Automations.Api.Launch;

/// <summary>Launch queues of an entity: admins create, rename and delete them; members list them to pick one for an automation.</summary>
public static class QueuesEndpoints
{
    public sealed class QueueBody
    {
        public string? Name { get; set; }
        public string? Description { get; set; }
    }

    public sealed class Queue
    {
        public Guid Id { get; set; }
        public string Name { get; set; } = "";
        public string? Description { get; set; }
        public DateTimeOffset CreatedAt { get; set; }
    }

    private const string Select = "select id as Id, name as Name, description as Description, created_at as CreatedAt from control.launch_queues where entity_id = @entityId";

    public static RouteGroupBuilder MapQueues(this RouteGroupBuilder entity)
    {
        var g = entity.MapGroup("/queues").WithTags("Launch queues");
        g.MapGet("", ListAsync).WithSummary("List launch queues.");
        g.MapGet("/{id:guid}", GetAsync).WithSummary("One launch queue.");
        g.MapPost("", CreateAsync).RequireEntityAdmin().Accepts<QueueBody>("application/json").Produces<Queue>(StatusCodes.Status201Created)
            .ProducesValidationProblem().WithSummary("Create a queue {name, description?}.");
        g.MapPut("/{id:guid}", UpdateAsync).RequireEntityAdmin().Accepts<QueueBody>("application/json").ProducesValidationProblem().WithSummary("Rename or describe a queue.");
        g.MapDelete("/{id:guid}", DeleteAsync).RequireEntityAdmin().ProducesProblem(StatusCodes.Status409Conflict)
            .WithSummary("Delete a queue; 409 naming the automations that use it.");
        return entity;
    }

    private static async Task<IResult> ListAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        return Results.Ok(await c.QueryAsync<Queue>(Select + " order by name", new { entityId = http.Caller().EntityId }));
    }

    private static async Task<IResult> GetAsync(Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        await using var c = await db.OpenConnectionAsync(ct);
        var q = await c.QuerySingleOrDefaultAsync<Queue>(Select + " and id = @id", new { entityId = http.Caller().EntityId, id });
        return q is null ? Problems.NotFound("The queue") : Results.Ok(q);
    }

    internal static Errors Check(QueueBody body)
    {
        var errors = new Errors();
        Names.Check(errors, "name", body.Name, Names.Slug(), "may contain letters, digits, '.', '_' and '-' only");
        if (body.Description is { Length: > 1000 }) errors.Add("description", "must be at most 1000 characters");
        return errors;
    }

    private static IResult Duplicate(string? name) => Problems.Conflict("name", $"A queue named '{name}' already exists in this entity.");

    private static async Task<IResult> CreateAsync(HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<QueueBody>(http.Request, ct);
        if (body is null) return error!;
        var errors = Check(body);
        if (errors.Any) return errors.ToResult();
        var entityId = http.Caller().EntityId;
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var q = await c.QuerySingleOrDefaultAsync<Queue>(
            """
            insert into control.launch_queues (id, entity_id, name, description) values (@id, @entityId, @Name, @Description)
            on conflict (entity_id, name) do nothing
            returning id as Id, name as Name, description as Description, created_at as CreatedAt
            """, new { id = Guid.CreateVersion7(), entityId, body.Name, body.Description }, tx);
        if (q is null) return Duplicate(body.Name);
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Queue, AuditActions.Create, q.Id, q.Name, null, null, q);
        await tx.CommitAsync(ct);
        return Results.Created($"{http.Request.Path}/{q.Id}", q);
    }

    private static async Task<IResult> UpdateAsync(Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var (body, error) = await Problems.ReadBodyAsync<QueueBody>(http.Request, ct);
        if (body is null) return error!;
        var errors = Check(body);
        if (errors.Any) return errors.ToResult();
        var entityId = http.Caller().EntityId;
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var before = await c.QuerySingleOrDefaultAsync<Queue>(Select + " and id = @id for update", new { entityId, id }, tx);
        if (before is null) return Problems.NotFound("The queue");
        Queue q;
        try
        {
            q = await c.QuerySingleAsync<Queue>(
                """
                update control.launch_queues set name = @Name, description = @Description where id = @id and entity_id = @entityId
                returning id as Id, name as Name, description as Description, created_at as CreatedAt
                """, new { id, entityId, body.Name, body.Description }, tx);
        }
        catch (PostgresException ex) when (Names.IsUniqueViolation(ex))
        {
            return Duplicate(body.Name);
        }
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Queue, AuditActions.Update, id, q.Name, null, before, q);
        await tx.CommitAsync(ct);
        return Results.Ok(q);
    }

    private static async Task<IResult> DeleteAsync(Guid id, HttpContext http, NpgsqlDataSource db, CancellationToken ct)
    {
        var entityId = http.Caller().EntityId;
        await using var c = await db.OpenConnectionAsync(ct);
        await using var tx = await c.BeginTransactionAsync(ct);
        var found = await c.QuerySingleOrDefaultAsync<Queue>(Select + " and id = @id for update", new { id, entityId }, tx);
        if (found is null) return Problems.NotFound("The queue");
        var users = (await c.QueryAsync<string>("select coalesce(project, '(team)') || '/' || name from control.automations where queue_id = @id order by 1", new { id }, tx)).ToList();
        if (users.Count > 0)
            return Problems.Conflict("id", $"The queue is used by automations {string.Join(", ", users)}; delete or change them first.",
                new Dictionary<string, object?> { ["automations"] = users });
        await c.ExecuteAsync("delete from control.launch_queues where id = @id", new { id }, tx);
        await Audit.Of(http, tx).RecordAsync(AuditKinds.Queue, AuditActions.Delete, id, found.Name, null, found, null);
        await tx.CommitAsync(ct);
        return Results.NoContent();
    }
}
