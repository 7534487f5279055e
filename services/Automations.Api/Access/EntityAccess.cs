using Automations.Api.Http;
using Automations.Core.Security;
using Automations.Persistence.Control;
using Dapper;
using Npgsql;

namespace Automations.Api.Access;

/// <summary>
/// Authorization for everything under /v1/entities/{entity}: a Bearer key (401 without one or when unknown/revoked),
/// of that entity (404 otherwise, so another team's resources are not revealed), with the `api` scope and a person who
/// is a member (403 otherwise). Endpoints only admins may call add <see cref="RequireEntityAdmin{TBuilder}"/>.
/// Other features' endpoints join the same group: `app.MapEntityApi().MapXxx()`.
/// </summary>
public static class EntityAccess
{
    public const string Prefix = "/v1/entities/{entity}";
    private const string PrincipalItem = "automations.principal";

    public static RouteGroupBuilder MapEntityApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(Prefix);
        group.AddEndpointFilter(AuthenticateAsync);
        group.ProducesProblem(StatusCodes.Status401Unauthorized)
            .ProducesProblem(StatusCodes.Status403Forbidden)
            .ProducesProblem(StatusCodes.Status404NotFound);
        return group;
    }

    /// <summary>The authenticated caller (set by the group filter).</summary>
    public static ApiKeyPrincipal Caller(this HttpContext http) =>
        http.Items[PrincipalItem] as ApiKeyPrincipal ?? throw new InvalidOperationException("The endpoint is not inside MapEntityApi()");

    public static TBuilder RequireEntityAdmin<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (ctx, next) =>
            ctx.HttpContext.Caller().IsAdmin ? await next(ctx) : AdminOnly());

    private static IResult AdminOnly() => Problems.Forbidden("Only an admin of this entity may do this.");

    private static async ValueTask<object?> AuthenticateAsync(EndpointFilterInvocationContext ctx, EndpointFilterDelegate next)
    {
        var (principal, error) = await AuthorizeAsync(ctx.HttpContext, admin: false);
        return principal is null ? error : await next(ctx);
    }

    /// <summary>
    /// The authorization of every /v1/entities/{entity} endpoint, for the few mapped outside <see cref="MapEntityApi"/>
    /// (they call it first): the caller, or the answer to give (401, 404 for another entity, 403).
    /// </summary>
    /// <param name="admin">Only an admin of the entity may call.</param>
    public static async Task<(ApiKeyPrincipal? Principal, IResult? Error)> AuthorizeAsync(HttpContext http, bool admin)
    {
        var key = ApiKeyQueries.FromAuthorizationHeader(http.Request.Headers.Authorization);
        if (string.IsNullOrEmpty(key))
            return (null, Problems.Unauthorized("Send `Authorization: Bearer <key>` with an API key that has the api scope."));
        var dataSource = http.RequestServices.GetRequiredService<NpgsqlDataSource>();
        var principal = await ApiKeyQueries.AuthenticateAsync(dataSource, key, http.RequestAborted);
        if (principal is null)
            return (null, Problems.Unauthorized("The key is unknown or revoked."));
        if (!string.Equals(http.GetRouteValue("entity") as string, principal.Entity, StringComparison.Ordinal))
            return (null, Problems.NotFound("The entity"));
        if (!principal.HasScope(ApiKeys.Scopes.Api))
            return (null, Problems.Forbidden("This key lacks the api scope (producer and agent keys cannot use the control plane)."));
        if (principal.Role is null)
            return (null, Problems.Forbidden("This key does not belong to a member of the entity."));
        if (admin && !principal.IsAdmin)
            return (null, AdminOnly());
        // Shown in the key list; written at most once a minute per key.
        await using (var c = await dataSource.OpenConnectionAsync(http.RequestAborted))
            await c.ExecuteAsync(
                "update control.api_keys set last_used_at = now() where id = @KeyId and (last_used_at is null or last_used_at < now() - interval '1 minute')",
                new { principal.KeyId });
        http.Items[PrincipalItem] = principal;
        return (principal, null);
    }
}
