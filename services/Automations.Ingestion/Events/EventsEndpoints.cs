using System.Diagnostics;
using Automations.Core.Events;
using Automations.Core.Security;
using Automations.Persistence.Control;
using Automations.ServiceDefaults.Http;

namespace Automations.Ingestion.Events;

public static class EventsEndpoints
{
    public const int MaxBodyBytes = EventValidator.MaxBodyBytes;

    public static void MapEvents(this WebApplication app)
    {
        app.MapPost("/v1/events", PostEventAsync)
            .WithName("PostEvent")
            .WithSummary("Report an artifact event or a run event (JSON body per schemas/artifact-event.schema.json or schemas/run-event.schema.json).")
            .Produces(StatusCodes.Status202Accepted)
            .ProducesValidationProblem()
            .ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status413PayloadTooLarge);
    }

    private static async Task<IResult> PostEventAsync(HttpContext http, EventStore store, ApiKeyCache keys, IngestionMetrics metrics, CancellationToken ct)
    {
        var key = ApiKeyQueries.FromAuthorizationHeader(http.Request.Headers.Authorization);
        if (key is null)
            return Problem(StatusCodes.Status401Unauthorized, "Missing API key", "Send `Authorization: Bearer <key>` with a key that has the events:write scope.");
        var principal = await keys.AuthenticateAsync(key, ct);
        if (principal is null)
            return Problem(StatusCodes.Status401Unauthorized, "Invalid API key", "The key is unknown or revoked.");
        if (!principal.HasScope(ApiKeys.Scopes.EventsWrite))
            return Problem(StatusCodes.Status403Forbidden, "Missing scope", "This key lacks the events:write scope.");

        var (body, tooLarge) = await JsonBody.ReadBytesAsync(http.Request, MaxBodyBytes, ct);
        if (body is null) return tooLarge!;

        var checkedEvent = EventValidator.Validate(body);
        if (!checkedEvent.Valid)
        {
            var errors = checkedEvent.Errors;
            metrics.Rejected("http", errors[0].Field == "body" ? "malformed" : "invalid");
            return Results.ValidationProblem(
                errors.GroupBy(e => e.Field).ToDictionary(g => g.Key, g => g.Select(e => e.Message).ToArray()),
                title: "The event is not valid",
                detail: EventValidator.Describe(errors));
        }
        if (!string.Equals(checkedEvent.Entity, principal.Entity, StringComparison.Ordinal))
            return Problem(StatusCodes.Status403Forbidden, "Wrong entity", $"This key belongs to another entity than \"{checkedEvent.Entity}\".");

        Activity.Current?.SetTag("automations.entity", checkedEvent.Entity);
        Activity.Current?.SetTag("automations.project", checkedEvent.Project);
        Activity.Current?.SetTag("automations.event_type", checkedEvent.EventType);
        var result = checkedEvent.Run is { } run ? await store.StoreAsync(run, "http", ct) : await store.StoreAsync(checkedEvent.Artifact!, "http", ct);
        Activity.Current?.SetTag("automations.event_id", result.Id);
        if (result.Duplicate) metrics.Duplicate("http");
        else metrics.Accepted("http", checkedEvent.EventType);
        // traceId: the operator's handle to open this event's trace in Jaeger (or grep the JSON logs for it).
        return Results.Accepted($"/v1/events/{result.Id}", new { id = result.Id, eventId = checkedEvent.EventId, duplicate = result.Duplicate, traceId = Activity.Current?.TraceId.ToHexString() });
    }

    private static IResult Problem(int status, string title, string detail) => Results.Problem(statusCode: status, title: title, detail: detail);
}
