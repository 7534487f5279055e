using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Automations.Testing;
using Dapper;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;
using static Automations.Security.Tests.Authorizing_every_operation.Access;

namespace Automations.Security.Tests;

/// <summary>
/// The authorization matrix: every operation of the Api's OpenAPI document, of Ingestion and of the agent API, called by
/// each of the eight principals, against the expectation below. An operation the table does not name fails the test, so
/// no endpoint ships without someone deciding who may call it. Allowed callers send an empty body or an unknown id, so
/// they reach validation (400) or the resource's 404, and nothing is created.
/// </summary>
[Trait("Category", "Security")]
public partial class Authorizing_every_operation(SecurityFixture fx, ITestOutputHelper output) : IClassFixture<SecurityFixture>
{
    public enum Access
    {
        /// <summary>Control plane: members and admins of the entity (api scope).</summary>
        Member,
        /// <summary>Control plane: admins of the entity only.</summary>
        Admin,
        /// <summary>Ingestion: keys with events:write.</summary>
        EventsWrite,
        /// <summary>Agent API: keys with queues:agent.</summary>
        QueuesAgent,
        /// <summary>Who a key is (GET /v1/me): every valid key, whatever its scopes and team; it learns only about itself.</summary>
        AnyKey,
    }

    // ---- The expectations: who may call what. Paths under /v1/entities/{entity} are written from there. ----

    private static readonly Dictionary<string, Access> ApiOperations = new()
    {
        ["GET /members"] = Member,
        ["POST /members"] = Admin,
        ["DELETE /members/{user}"] = Admin,
        ["GET /keys"] = Admin,
        ["POST /keys"] = Admin,
        ["DELETE /keys/{id}"] = Admin,
        ["GET /secrets"] = Admin,
        ["POST /secrets"] = Admin,
        ["PUT /secrets/{name}"] = Admin,
        ["DELETE /secrets/{name}"] = Admin,
        ["GET /webhooks"] = Member,
        ["GET /webhooks/{id}"] = Member,
        ["POST /webhooks"] = Admin,
        ["PUT /webhooks/{id}"] = Admin,
        ["DELETE /webhooks/{id}"] = Admin,
        ["POST /webhooks/{id}/test"] = Admin,
        ["GET /integrations"] = Admin,
        ["GET /integrations/{id}"] = Admin,
        ["POST /integrations"] = Admin,
        ["PUT /integrations/{id}"] = Admin,
        ["DELETE /integrations/{id}"] = Admin,
        ["GET /webhooks/{id}/deliveries"] = Member,
        ["POST /webhooks/{id}/redeliver-failed"] = Admin,
        ["GET /webhooks/{id}/incidents"] = Member,
        ["POST /webhooks/{id}/enable"] = Admin,
        ["GET /projects"] = Member,
        ["GET /alerts"] = Admin,
        ["PUT /alerts"] = Admin,
        ["GET /deliveries/{id}"] = Member,
        ["POST /deliveries/{id}/redeliver"] = Admin,
        ["GET /projects/{project}/automations"] = Member,
        ["POST /projects/{project}/automations"] = Member,
        ["GET /projects/{project}/automations/{id}"] = Member,
        ["PUT /projects/{project}/automations/{id}"] = Member,
        ["DELETE /projects/{project}/automations/{id}"] = Member,
        ["POST /projects/{project}/automations/{id}/enable"] = Member,
        ["POST /projects/{project}/automations/{id}/disable"] = Member,
        ["GET /projects/{project}/automations/{id}/runs"] = Member,
        ["GET /automations"] = Member,
        ["POST /automations"] = Admin,
        ["GET /automations/{id}"] = Member,
        ["PUT /automations/{id}"] = Admin,
        ["DELETE /automations/{id}"] = Admin,
        ["POST /automations/{id}/enable"] = Admin,
        ["POST /automations/{id}/disable"] = Admin,
        ["GET /automations/{id}/runs"] = Member,
        ["POST /projects/{project}/automations/preview"] = Member,
        ["POST /projects/{project}/automations/{id}/preview"] = Member,
        ["POST /automations/preview"] = Member,
        ["POST /automations/{id}/preview"] = Member,
        ["GET /queues"] = Member,
        ["GET /queues/{id}"] = Member,
        ["POST /queues"] = Admin,
        ["PUT /queues/{id}"] = Admin,
        ["DELETE /queues/{id}"] = Admin,
        ["GET /queues/{queueId}/items"] = Member,
        ["GET /jobs"] = Member,
        ["GET /jobs/{id}"] = Member,
        ["POST /jobs"] = Member,
        ["PUT /jobs/{id}"] = Member,
        ["DELETE /jobs/{id}"] = Admin,
        ["POST /jobs/{id}/versions"] = Member,
        ["GET /jobs/{id}/versions/{version}"] = Member,
        ["GET /config/export"] = Admin,
        ["POST /config/plan"] = Admin,
        ["POST /config/apply"] = Admin,
        ["GET /audit"] = Admin,
        ["GET /v1/me"] = AnyKey,
    };

    /// <summary>Routes the Api keeps out of its OpenAPI document, each with how it is checked instead.</summary>
    private static readonly Dictionary<string, string> ExcludedFromTheDocument = new()
    {
        ["/openapi/{documentName}.json"] = "the document itself, public",
        ["/health"] = "health probes, public, no data",
    };

    private static readonly Dictionary<string, Access> IngestionOperations = new() { ["POST /v1/events"] = EventsWrite };

    private static readonly Dictionary<string, Access> AgentOperations = new()
    {
        ["POST /v1/agent/queues/{queueId}/claim"] = QueuesAgent,
        ["POST /v1/agent/items/{id}/heartbeat"] = QueuesAgent,
        ["POST /v1/agent/items/{id}/running"] = QueuesAgent,
        ["POST /v1/agent/items/{id}/finished"] = QueuesAgent,
        ["POST /v1/agent/items/{id}/failed"] = QueuesAgent,
        ["POST /v1/agent/items/{id}/release"] = QueuesAgent,
    };

    /// <summary>What each principal is: its entity, role and scopes (null entity: no valid key).</summary>
    private static readonly Dictionary<Principal, (string? Entity, string? Role, string[] Scopes)> Principals = new()
    {
        [Principal.Admin] = ("acme", "admin", ["api", "events:write", "queues:agent"]),
        [Principal.Member] = ("acme", "member", ["api"]),
        [Principal.OtherTeamAdmin] = ("globex", "admin", ["api", "events:write", "queues:agent"]),
        [Principal.EventsOnlyKey] = ("acme", null, ["events:write"]),
        [Principal.AgentKey] = ("acme", null, ["queues:agent"]),
        [Principal.NoKey] = (null, null, []),
        [Principal.GarbageKey] = (null, null, []),
        [Principal.RevokedKey] = (null, null, []),
    };

    // ---- The rules that turn the table into answers. ----

    private enum Outcome { Unauthorized, EntityNotFound, Forbidden, Reached }

    private static Outcome Expected(Access access, Principal principal)
    {
        var (entity, role, scopes) = Principals[principal];
        if (entity is null) return Outcome.Unauthorized;
        if (access == AnyKey) return Outcome.Reached;
        return access switch
        {
            EventsWrite => scopes.Contains("events:write") ? Outcome.Reached : Outcome.Forbidden,
            QueuesAgent => scopes.Contains("queues:agent") ? Outcome.Reached : Outcome.Forbidden,
            _ when entity != "acme" => Outcome.EntityNotFound,
            _ when !scopes.Contains("api") || role is null => Outcome.Forbidden,
            Admin when role != "admin" => Outcome.Forbidden,
            _ => Outcome.Reached,
        };
    }

    private const string EntityPrefix = "/v1/entities/{entity}";
    private static readonly Guid UnknownId = Guid.NewGuid();

    [Fact]
    public async Task Should_answer_every_api_operation_in_the_openapi_document_as_the_table_says()
    {
        using var document = JsonDocument.Parse(await fx.Api.Client.GetStringAsync("/openapi/v1.json"));
        var operations = new List<(string Method, string Path)>();
        foreach (var path in document.RootElement.GetProperty("paths").EnumerateObject())
            foreach (var op in path.Value.EnumerateObject())
                operations.Add((op.Name.ToUpperInvariant(), path.Name));

        var unknown = operations.Select(o => $"{o.Method} {o.Path}").Where(o => !ApiOperations.ContainsKey(Relative(o))).ToList();
        Assert.True(unknown.Count == 0, "The OpenAPI document has operations the matrix has no expectation for (add them to ApiOperations): " + string.Join(", ", unknown));
        var missing = ApiOperations.Keys.Where(k => !operations.Any(o => Relative($"{o.Method} {o.Path}") == k)).ToList();
        Assert.True(missing.Count == 0, "The matrix expects operations the OpenAPI document does not have: " + string.Join(", ", missing));

        var before = await RowCountsAsync();
        Assert.Contains("control.api_keys=", before, StringComparison.Ordinal);
        await WalkAsync(fx.Api, operations.Select(o => (o.Method, o.Path, ApiOperations[Relative($"{o.Method} {o.Path}")])));
        Assert.Equal(before, await RowCountsAsync());
    }

    [Fact]
    public async Task Should_describe_every_api_route_in_the_openapi_document_or_exclude_it_by_name()
    {
        using var document = JsonDocument.Parse(await fx.Api.Client.GetStringAsync("/openapi/v1.json"));
        var described = document.RootElement.GetProperty("paths").EnumerateObject()
            .SelectMany(p => p.Value.EnumerateObject().Select(o => $"{o.Name.ToUpperInvariant()} {p.Name}")).ToHashSet();
        var undescribed = Routes(fx.Api).Where(r => !described.Contains($"{r.Method} {r.Path}")).ToList();
        var unexplained = undescribed.Where(r => !ExcludedFromTheDocument.Keys.Any(prefix => Under(r.Path, prefix))).ToList();
        Assert.True(unexplained.Count == 0, "Routes neither in the OpenAPI document nor in ExcludedFromTheDocument: " + string.Join(", ", unexplained));
    }

    [Fact]
    public async Task Should_answer_every_ingestion_operation_as_the_table_says()
    {
        var routes = Routes(fx.Ingestion).Where(r => !r.Path.StartsWith("/health/", StringComparison.Ordinal)).ToList();
        AssertAllExpected(routes, IngestionOperations, "Ingestion");
        var before = await RowCountsAsync();
        await WalkAsync(fx.Ingestion, routes.Select(r => (r.Method, r.Path, IngestionOperations[$"{r.Method} {r.Path}"])));
        Assert.Equal(before, await RowCountsAsync());
    }

    [Fact]
    public async Task Should_answer_every_agent_api_operation_as_the_table_says()
    {
        var routes = Routes(fx.Launch).Where(r => !r.Path.StartsWith("/health/", StringComparison.Ordinal)).ToList();
        AssertAllExpected(routes, AgentOperations, "the agent API");
        var before = await RowCountsAsync();
        await WalkAsync(fx.Launch, routes.Select(r => (r.Method, r.Path, AgentOperations[$"{r.Method} {r.Path}"])));
        Assert.Equal(before, await RowCountsAsync());
    }

    private static bool Under(string path, string prefix) =>
        path == prefix || path.StartsWith(prefix.TrimEnd('/') + "/", StringComparison.Ordinal);

    private static void AssertAllExpected(List<(string Method, string Path)> routes, Dictionary<string, Access> table, string service)
    {
        var unknown = routes.Select(r => $"{r.Method} {r.Path}").Where(r => !table.ContainsKey(r)).ToList();
        Assert.True(unknown.Count == 0, $"{service} has operations the matrix has no expectation for: {string.Join(", ", unknown)}");
        var missing = table.Keys.Where(k => !routes.Any(r => $"{r.Method} {r.Path}" == k)).ToList();
        Assert.True(missing.Count == 0, $"The matrix expects operations {service} does not have: {string.Join(", ", missing)}");
    }

    /// <summary>Calls every operation as every principal; collects every cell that differs from the table, then fails once with all of them.</summary>
    private async Task WalkAsync(ServiceHost host, IEnumerable<(string Method, string Path, Access Access)> operations)
    {
        using var client = NoRedirects(host);
        var wrong = new List<string>();
        var table = new StringBuilder();
        foreach (var (method, template, access) in operations.OrderBy(o => o.Path).ThenBy(o => o.Method))
        {
            var path = Fill(template, "acme");
            var cells = new List<string>();
            foreach (var principal in Enum.GetValues<Principal>().OrderBy(p => p == Principal.NoKey ? 0 : 1))
            {
                var answer = await CallAsync(client, method, path, fx.KeyOf(principal));
                cells.Add($"{principal}={answer.Status}");
                var expected = Expected(access, principal);
                var problem = expected switch
                {
                    Outcome.Unauthorized => answer.Status == 401 && answer.IsProblem ? null : "expected 401 problem+json",
                    Outcome.Forbidden => answer.Status == 403 && answer.IsProblem ? null : "expected 403 problem+json",
                    Outcome.EntityNotFound => await EntityNotFoundProblemAsync(client, method, template, answer),
                    _ => Reached(method, answer),
                };
                if (problem is not null)
                    wrong.Add($"{method} {template} as {principal} ({access}): {problem}, got {answer.Status} {answer.Detail}");
            }
            table.AppendLine($"{method,-6} {template,-70} {access,-11} {string.Join(' ', cells)}");
        }
        output.WriteLine(table.ToString());
        Assert.True(wrong.Count == 0, $"{wrong.Count} answers differ from the matrix:\n" + string.Join("\n", wrong));
    }

    /// <summary>
    /// Another team's key gets the answer a missing team gets: 404 "The entity does not exist.", identical to an admin
    /// asking for a team that does not exist, so nothing tells the two apart.
    /// </summary>
    private async Task<string?> EntityNotFoundProblemAsync(HttpClient client, string method, string template, Answer answer)
    {
        if (answer.Status != 404 || !answer.IsProblem || answer.Detail != "The entity does not exist.")
            return "expected 404 problem+json \"The entity does not exist.\"";
        var missingTeam = await CallAsync(client, method, Fill(template, "no-such-team"), fx.KeyOf(Principal.Admin));
        return missingTeam.Status == answer.Status && missingTeam.Title == answer.Title && missingTeam.Detail == answer.Detail
            ? null : $"a missing team answers differently ({missingTeam.Status} {missingTeam.Title} {missingTeam.Detail})";
    }

    /// <summary>The caller got through authorization: a list (GET 200), a validation error, or the 404 of the resource (not of the entity); never a write.</summary>
    private static string? Reached(string method, Answer answer) => answer.Status switch
    {
        200 when method == "GET" => null,
        400 when answer.IsProblem => null,
        404 when answer.IsProblem && answer.Detail != "The entity does not exist." => null,
        _ => "expected to reach validation (400, the resource's 404, or a GET's 200)",
    };

    private sealed record Answer(int Status, bool IsProblem, string? Title, string? Detail);

    private static async Task<Answer> CallAsync(HttpClient client, string method, string path, string? key)
    {
        using var response = await SendAsync(client, method, path, key);
        var isProblem = response.Content.Headers.ContentType?.MediaType == "application/problem+json";
        string? title = null, detail = null;
        if (isProblem)
        {
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            title = body.RootElement.TryGetProperty("title", out var t) ? t.GetString() : null;
            detail = body.RootElement.TryGetProperty("detail", out var d) ? d.GetString() : null;
        }
        return new Answer((int)response.StatusCode, isProblem, title, detail);
    }

    private static Task<HttpResponseMessage> SendAsync(HttpClient client, string method, string path, string? key)
    {
        var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (method is "POST" or "PUT") request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return client.SendAsync(request);
    }

    private static HttpClient NoRedirects(ServiceHost host) =>
        new(new SocketsHttpHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = host.BaseAddress };

    private static string Relative(string operation) => operation.Replace(EntityPrefix, "", StringComparison.Ordinal);

    /// <summary>A concrete path: the team, a project, and ids and names that do not exist.</summary>
    private static string Fill(string template, string entity) => Parameter().Replace(template, m => m.Groups[1].Value switch
    {
        "entity" => entity,
        "project" => "mnist",
        "id" or "queueId" or "deliveryId" => UnknownId.ToString(),
        "user" => "nobody",
        "name" => "NO_SUCH_SECRET",
        "version" => "1",
        var other => throw new InvalidOperationException($"The matrix does not know what to put in {{{other}}} of {template}: add it to Fill."),
    });

    [GeneratedRegex(@"\{(\w+)(?::[^}]*)?\}")]
    private static partial Regex Parameter();

    /// <summary>The host's routes as (method, path) in the document's spelling: no route constraints, no trailing slash.</summary>
    private static List<(string Method, string Path)> Routes(ServiceHost host) =>
        host.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .SelectMany(e =>
            {
                var path = Regex.Replace(e.RoutePattern.RawText ?? "", @"\{(\w+):[^}]*\}", "{$1}");
                if (path.Length > 1) path = path.TrimEnd('/');
                if (!path.StartsWith('/')) path = "/" + path;
                var methods = e.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods ?? ["*"];
                return methods.Select(m => (m, path));
            })
            .Distinct().ToList();

    /// <summary>
    /// Rows per table of every schema: what the walk must leave as it was. A partitioned table is counted whole, its
    /// partitions not listed: retention creates partitions whenever its pass runs, which changes no row.
    /// </summary>
    private async Task<string> RowCountsAsync()
    {
        await using var c = await fx.DataSource.OpenConnectionAsync();
        var tables = await c.QueryAsync<string>(
            """
            select n.nspname || '.' || c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where n.nspname in ('control','ingestion','rules','delivery','launch') and c.relkind in ('r', 'p') and not c.relispartition
            order by 1
            """);
        var counts = new StringBuilder();
        foreach (var table in tables)
            counts.Append(table).Append('=').Append(await c.ExecuteScalarAsync<long>($"select count(*) from {table}")).Append(' ');
        return counts.ToString();
    }
}
