using System.Text.Json;
using System.Text.Json.Serialization;
using Automations.Api.Access;
using Automations.Api.History;
using Automations.Api.ProjectAutomations;
using Automations.Contracts;
using Automations.Core.Validation;
using Automations.Persistence.Writes;
using Automations.ServiceDefaults.Http;
using Dapper;
using MassTransit;
using Npgsql;

namespace Automations.Api.Deliveries;

/// <summary>
/// Webhook test (request/response over the bus to the WebhookSender), delivery history, and redelivery by hand.
/// The Api reads deliveries only through the views the sender publishes (delivery.delivery_history and
/// delivery.attempt_history); redelivery is a RedeliverWebhook command in the control outbox that the sender carries
/// out (it owns the delivery rows and their schedule).
/// </summary>
public static class DeliveriesEndpoints
{
    private const int DefaultLimit = 50;
    private const int MaxLimit = 500;

    public static IEndpointRouteBuilder MapDeliveries(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/entities/{entity}").WithTags("Deliveries");
        group.MapPost("/webhooks/{id:guid}/test", TestAsync);
        group.MapGet("/webhooks/{id:guid}/deliveries", ListAsync);
        group.MapPost("/webhooks/{id:guid}/redeliver-failed", RedeliverFailedAsync);
        group.MapGet("/deliveries/{id:guid}", GetAsync);
        group.MapPost("/deliveries/{id:guid}/redeliver", RedeliverAsync);
        return app;
    }

    private static async Task<bool> WebhookExistsAsync(NpgsqlDataSource dataSource, Guid entityId, Guid id, CancellationToken ct)
    {
        await using var c = await dataSource.OpenConnectionAsync(ct);
        return await c.ExecuteScalarAsync<bool>(new CommandDefinition(
            "select exists (select 1 from control.webhooks where id = @id and entity_id = @entityId)", new { id, entityId }, cancellationToken: ct));
    }

    private static IResult WebhookNotFound(Guid id) => Results.Problem(statusCode: 404, title: "Not found", detail: $"No webhook {id} in this team");

    private static async Task<IResult> TestAsync(string entity, Guid id, HttpContext http, NpgsqlDataSource dataSource, IClientFactory clients)
    {
        var (principal, error) = await EntityAccess.AuthorizeAsync(http, admin: true);
        if (error is not null) return error;
        if (!await WebhookExistsAsync(dataSource, principal!.EntityId, id, http.RequestAborted)) return WebhookNotFound(id);

        // The body is the payload to send: any JSON a saved payload could hold, and no longer.
        var (body, tooLarge) = await JsonBody.ReadBytesAsync(http.Request, JsonBody.DefaultMaxBytes, http.RequestAborted);
        if (body is null) return tooLarge!;
        if (JsonText.Check(body) is { } problem)
            return JsonBody.Invalid(problem.Field == "body" ? "payload" : "payload." + problem.Field, problem.Message);
        var payload = System.Text.Encoding.UTF8.GetString(body);
        if (payload.Length > AutomationValidator.MaxPayloadLength)
            return JsonBody.Invalid("payload", $"must be at most {AutomationValidator.MaxPayloadLength} characters, as a saved automation's payload");

        var client = clients.CreateRequestClient<TestWebhook>(RequestTimeout.After(s: 30));
        try
        {
            var response = await client.GetResponse<WebhookTestResult>(new TestWebhook(id, entity, payload), http.RequestAborted);
            return Results.Ok(response.Message);
        }
        catch (RequestTimeoutException)
        {
            return Results.Problem(statusCode: 504, title: "The webhook sender did not answer", detail: "No WebhookTestResult within 30 s; is the WebhookSender running?");
        }
    }

    private static async Task<IResult> GetAsync(string entity, Guid id, HttpContext http, NpgsqlDataSource dataSource)
    {
        var (_, error) = await EntityAccess.AuthorizeAsync(http, admin: false);
        if (error is not null) return error;
        await using var c = await dataSource.OpenConnectionAsync(http.RequestAborted);
        var delivery = await c.QuerySingleOrDefaultAsync<DeliveryView>(new CommandDefinition(
            $"{DeliveryView.Select} where d.id = @id and d.entity = @entity", new { id, entity }, cancellationToken: http.RequestAborted));
        if (delivery is null) return Results.Problem(statusCode: 404, title: "Not found", detail: $"No delivery {id} in this team");
        var attempts = await c.QueryAsync<AttemptView>(new CommandDefinition(
            """
            select number as Number, manual as Manual, started_at as StartedAt, duration_ms as DurationMs, status_code as StatusCode,
                   response_headers::text as ResponseHeadersJson, response_body as ResponseBody, response_truncated as ResponseTruncated,
                   error as Error, next_attempt_at as NextAttemptAt
            from delivery.attempt_history where delivery_id = @id order by number
            """, new { id }, cancellationToken: http.RequestAborted));
        HistoryReach.Announce(http);
        return Results.Ok(delivery with { AttemptList = attempts.AsList() });
    }

    private static async Task<IResult> ListAsync(string entity, Guid id, string? status, int? limit, HttpContext http, NpgsqlDataSource dataSource)
    {
        var (principal, error) = await EntityAccess.AuthorizeAsync(http, admin: false);
        if (error is not null) return error;
        if (!await WebhookExistsAsync(dataSource, principal!.EntityId, id, http.RequestAborted)) return WebhookNotFound(id);
        if (status is not null and not ("pending" or "succeeded" or "failed"))
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["status"] = ["status is one of pending, succeeded, failed"] });
        if (limit is < 1 or > MaxLimit)
            return Results.ValidationProblem(new Dictionary<string, string[]> { ["limit"] = [$"limit is between 1 and {MaxLimit}"] });
        await using var c = await dataSource.OpenConnectionAsync(http.RequestAborted);
        var rows = await c.QueryAsync<DeliveryView>(new CommandDefinition(
            $"{DeliveryView.Select} where d.webhook_id = @id and d.entity = @entity and (@status::text is null or d.status = @status) order by d.created_at desc limit @limit",
            new { id, entity, status, limit = limit ?? DefaultLimit }, cancellationToken: http.RequestAborted));
        // A bare array (kept for compatibility): the reach is in the headers only.
        HistoryReach.Announce(http);
        return Results.Ok(rows);
    }

    private static async Task<IResult> RedeliverAsync(string entity, Guid id, HttpContext http, NpgsqlDataSource dataSource,
        [FromKeyedServices(Extensions.Schema)] Writes writes)
    {
        var (principal, error) = await EntityAccess.AuthorizeAsync(http, admin: true);
        if (error is not null) return error;
        await using var c = await dataSource.OpenConnectionAsync(http.RequestAborted);
        var status = await c.QuerySingleOrDefaultAsync<string>(new CommandDefinition(
            "select status from delivery.delivery_history where id = @id and entity = @entity", new { id, entity }, cancellationToken: http.RequestAborted));
        if (status is null) return Results.Problem(statusCode: 404, title: "Not found", detail: $"No delivery {id} in this team");
        if (status == "pending") return Results.Problem(statusCode: 409, title: "Conflict", detail: "This delivery is still being attempted; redeliver it once it has succeeded or failed");
        var request = new RedeliverWebhook(Guid.CreateVersion7(), entity, id, null, null, null, principal!.UserName ?? principal.KeyId.ToString(), DateTimeOffset.UtcNow);
        await PublishAsync(writes, c, request, http.RequestAborted);
        return Results.Accepted($"/v1/entities/{entity}/deliveries/{id}", new { requestId = request.RequestId, deliveries = 1 });
    }

    private static async Task<IResult> RedeliverFailedAsync(string entity, Guid id, string? from, string? to, HttpContext http, NpgsqlDataSource dataSource,
        [FromKeyedServices(Extensions.Schema)] Writes writes)
    {
        var (principal, error) = await EntityAccess.AuthorizeAsync(http, admin: true);
        if (error is not null) return error;
        if (!await WebhookExistsAsync(dataSource, principal!.EntityId, id, http.RequestAborted)) return WebhookNotFound(id);
        var errors = new Dictionary<string, string[]>();
        DateTimeOffset? f = null, t = null;
        if (from is not null) { if (DateTimeOffset.TryParse(from, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var v)) f = v.ToUniversalTime(); else errors["from"] = ["from must be an ISO 8601 timestamp"]; }
        if (to is not null) { if (DateTimeOffset.TryParse(to, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var v)) t = v.ToUniversalTime(); else errors["to"] = ["to must be an ISO 8601 timestamp"]; }
        if (f is not null && t is not null && f >= t) errors["to"] = ["to must be after from"];
        if (errors.Count > 0) return Results.ValidationProblem(errors);

        await using var c = await dataSource.OpenConnectionAsync(http.RequestAborted);
        var count = await c.ExecuteScalarAsync<int>(new CommandDefinition(
            """
            select count(*) from delivery.delivery_history where webhook_id = @id and entity = @entity and status = 'failed'
              and created_at >= coalesce(@f, '-infinity'::timestamptz) and created_at < coalesce(@t, 'infinity'::timestamptz)
            """, new { id, entity, f, t }, cancellationToken: http.RequestAborted));
        var request = new RedeliverWebhook(Guid.CreateVersion7(), entity, null, id, f, t, principal.UserName ?? principal.KeyId.ToString(), DateTimeOffset.UtcNow);
        await PublishAsync(writes, c, request, http.RequestAborted);
        return Results.Accepted(null as string, new { requestId = request.RequestId, deliveries = count });
    }

    private static async Task PublishAsync(Writes writes, NpgsqlConnection c, RedeliverWebhook request, CancellationToken ct)
    {
        await using var tx = await c.BeginTransactionAsync(ct);
        var w = writes.Enlist(c, tx);
        w.Publish(request, request.RequestId);
        await w.CommitAsync(ct);
    }

    /// <param name="Payload">The payload as sent, with secret references (${NAME}) in place of their values; sealed (docs/rules.md): `$$` is a `$`.</param>
    public sealed record DeliveryView(Guid Id, Guid CommandId, Guid RunId, Guid EventId, Guid AutomationId, Guid WebhookId, string Project,
        string Status, int Attempts, DateTime? NextAttemptAt, int? LastStatusCode, string? LastError, string Payload, DateTime CreatedAt, DateTime? CompletedAt)
    {
        /// <summary>The columns in the order of the constructor (Dapper maps a row to it by position and type).</summary>
        public const string Select =
            """
            select d.id as Id, d.command_id as CommandId, d.run_id as RunId, d.event_id as EventId, d.automation_id as AutomationId,
                   d.webhook_id as WebhookId, d.project as Project, d.status as Status, d.attempts as Attempts,
                   d.next_attempt_at as NextAttemptAt, d.last_status_code as LastStatusCode, d.last_error as LastError,
                   d.payload as Payload, d.created_at as CreatedAt, d.completed_at as CompletedAt
            from delivery.delivery_history d
            """;

        [JsonPropertyName("attemptLog")]
        [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
        public IReadOnlyList<AttemptView>? AttemptList { get; init; }
    }

    /// <param name="ResponseBody">
    /// The first bytes of the answer (WebhookSender's <c>Webhooks:MaxResponseBodyBytes</c>), secret values masked. Null
    /// for an attempt recorded before responses were masked: it may hold an echoed secret.
    /// </param>
    public sealed record AttemptView(int Number, bool Manual, DateTime StartedAt, double DurationMs, int? StatusCode,
        [property: JsonIgnore] string? ResponseHeadersJson, string? ResponseBody, bool ResponseTruncated, string? Error, DateTime? NextAttemptAt)
    {
        public Dictionary<string, string>? ResponseHeaders =>
            ResponseHeadersJson is null ? null : JsonSerializer.Deserialize<Dictionary<string, string>>(ResponseHeadersJson);
    }
}
