using System.Text.Json;
using Automations.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.OpenApi;

namespace Automations.Security.Tests.HostileInput;

/// <summary>Which service answers an operation, and so which key is the right caller.</summary>
public enum Service { Api, Ingestion, Agent }

public sealed record Parameter(string Name, string In, string Type);

/// <summary>One HTTP operation: its parameters and whether it reads a JSON body.</summary>
public sealed record Operation(Service Service, string Method, string Path, IReadOnlyList<Parameter> Parameters, bool HasBody)
{
    public string Key => $"{Service} {Method} {Path}";
}

/// <summary>
/// Every operation a caller can reach. The Api's come from its OpenAPI document; Ingestion and the LaunchEnqueuer's agent
/// API publish none, so theirs are listed here (the walk checks that every listed one is really routed).
/// </summary>
public static class Operations
{
    public static readonly IReadOnlyList<Operation> Listed =
    [
        new(Service.Ingestion, "POST", "/v1/events", [], true),
        new(Service.Agent, "POST", "/v1/agent/queues/{queueId}/claim", [new("queueId", "path", "uuid"), new("wait", "query", "integer"), new("agent", "query", "string")], false),
        new(Service.Agent, "POST", "/v1/agent/items/{id}/heartbeat", [new("id", "path", "uuid")], true),
        new(Service.Agent, "POST", "/v1/agent/items/{id}/running", [new("id", "path", "uuid")], true),
        new(Service.Agent, "POST", "/v1/agent/items/{id}/finished", [new("id", "path", "uuid")], true),
        new(Service.Agent, "POST", "/v1/agent/items/{id}/failed", [new("id", "path", "uuid")], true),
        new(Service.Agent, "POST", "/v1/agent/items/{id}/release", [new("id", "path", "uuid")], true),
    ];

    private static readonly Lazy<string> Document = new(GenerateApiDocument);

    /// <summary>The Api's OpenAPI document as its own Program.Build generates it, without a database or broker (nothing is started).</summary>
    public static string ApiDocument => Document.Value;

    private static string GenerateApiDocument()
    {
        MassTransit.LogContext.Current = null;
        var app = Automations.Api.Program.Build(
        [
            "--ConnectionStrings:Postgres=Host=127.0.0.1;Database=unused",
            "--ConnectionStrings:RabbitMq=amqp://guest:guest@127.0.0.1:5672/",
            $"--Secrets:MasterKeys:{TestEnvironment.TestMasterKeyId}={TestEnvironment.TestMasterKey}",
            $"--Secrets:ActiveKeyId={TestEnvironment.TestMasterKeyId}",
            "--environment=Testing",
        ]);
        try
        {
            // Never started: UseEndpoints only hands the mapped endpoints to the API explorer, as starting the host would.
            app.UseRouting();
            app.UseEndpoints(_ => { });
            var provider = app.Services.GetRequiredKeyedService<IOpenApiDocumentProvider>("v1");
            var document = provider.GetOpenApiDocumentAsync().GetAwaiter().GetResult();
            return document.SerializeAsJsonAsync(OpenApiSpecVersion.OpenApi3_1).GetAwaiter().GetResult();
        }
        finally
        {
            ((IDisposable)app).Dispose();
            MassTransit.LogContext.Current = null;
        }
    }

    /// <summary>The operations of an OpenAPI document (paths × methods), with their path and query parameters.</summary>
    public static IReadOnlyList<Operation> FromOpenApi(string json)
    {
        using var doc = JsonDocument.Parse(json);
        var root = doc.RootElement;
        var operations = new List<Operation>();
        foreach (var path in root.GetProperty("paths").EnumerateObject())
        {
            var shared = path.Value.TryGetProperty("parameters", out var sp) ? sp.EnumerateArray().ToList() : [];
            foreach (var method in path.Value.EnumerateObject())
            {
                if (method.Name is "parameters" or "summary" or "description" or "servers") continue;
                var op = method.Value;
                var parameters = shared.Concat(op.TryGetProperty("parameters", out var p) ? p.EnumerateArray() : [])
                    .Select(e => Resolve(root, e))
                    .Where(e => e.GetProperty("in").GetString() is "path" or "query")
                    .Select(e => new Parameter(e.GetProperty("name").GetString()!, e.GetProperty("in").GetString()!, TypeOf(root, e)))
                    .ToList();
                // A route value bound by a group filter rather than the handler ({entity}) is in the path but not in the list.
                foreach (var name in PathParameters(path.Name).Where(n => parameters.All(x => x.Name != n)))
                    parameters.Insert(0, new Parameter(name, "path", "string"));
                operations.Add(new Operation(Service.Api, method.Name.ToUpperInvariant(), path.Name, parameters, op.TryGetProperty("requestBody", out _)));
            }
        }
        return operations;
    }

    public static IEnumerable<string> PathParameters(string template) =>
        System.Text.RegularExpressions.Regex.Matches(template, @"\{([A-Za-z_][A-Za-z0-9_]*)[^}]*\}").Select(m => m.Groups[1].Value);

    private static JsonElement Resolve(JsonElement root, JsonElement e)
    {
        if (!e.TryGetProperty("$ref", out var r)) return e;
        var target = root;
        foreach (var part in r.GetString()!.TrimStart('#', '/').Split('/')) target = target.GetProperty(part);
        return target;
    }

    private static string TypeOf(JsonElement root, JsonElement parameter)
    {
        if (!parameter.TryGetProperty("schema", out var s)) return "string";
        s = Resolve(root, s);
        if (s.TryGetProperty("format", out var f) && f.GetString() == "uuid") return "uuid";
        var types = s.TryGetProperty("type", out var t)
            ? t.ValueKind == JsonValueKind.Array ? t.EnumerateArray().Select(x => x.GetString()).ToArray() : [t.GetString()]
            : [];
        return types.Contains("integer") ? "integer" : types.Contains("number") ? "number" : types.Contains("boolean") ? "boolean" : "string";
    }

    public static IReadOnlyList<Operation> All => [.. FromOpenApi(ApiDocument), .. Listed];

    public static TheoryData<string> Keys
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var op in All) data.Add(op.Key);
            return data;
        }
    }

    public static Operation Find(string key) => All.Single(o => o.Key == key);
}
