using Automations.Api.Http;
using Automations.Persistence.Control;
using Npgsql;

namespace Automations.Api.Access;

/// <summary>
/// GET /v1/me: who a key is (its team, person, role and scopes). A front end that holds only a key (the console) learns
/// its team from it and re-checks it on every request; 401 when the key is unknown or revoked. Any key may ask: it only
/// learns about itself.
/// </summary>
public static class WhoAmIEndpoint
{
    public sealed record Me(string Entity, string? User, string? Role, string[] Scopes);

    public static IEndpointRouteBuilder MapWhoAmI(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/me", MeAsync).WithTags("Keys").Produces<Me>().ProducesProblem(StatusCodes.Status401Unauthorized)
            .WithSummary("Who the presented key is: its entity, user, role and scopes.");
        return app;
    }

    private static async Task<IResult> MeAsync(HttpContext http, NpgsqlDataSource db)
    {
        var key = ApiKeyQueries.FromAuthorizationHeader(http.Request.Headers.Authorization);
        if (string.IsNullOrEmpty(key))
            return Problems.Unauthorized("Send `Authorization: Bearer <key>`.");
        var principal = await ApiKeyQueries.AuthenticateAsync(db, key, http.RequestAborted);
        if (principal is null) return Problems.Unauthorized("The key is unknown or revoked.");
        return Results.Ok(new Me(principal.Entity, principal.UserName, principal.Role, principal.Scopes));
    }
}
