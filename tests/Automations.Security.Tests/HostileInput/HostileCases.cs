using System.Text;
using System.Text.Json.Nodes;

namespace Automations.Security.Tests.HostileInput;

/// <summary>
/// One hostile request for an operation. <see cref="Field"/> is what a refusal must name (a JSON path such as
/// `action.payload` or `args[0]`, a parameter name, or `body`). When <see cref="MustRefuse"/> is false the input is odd
/// but legal (a big integer in free-form metadata): it may be accepted, but never with a 5xx. When
/// <see cref="MustAccept"/> is set it is a legal value that only looks hostile (2^63 as a metric, a 64-bit float): it
/// must be accepted and stored, not refused or lost.
/// </summary>
public sealed record HostileCase(string Name, string Path, byte[]? Body, string ContentType, string? Field, bool MustRefuse, bool ParameterCase = false,
    bool MustAccept = false);

/// <summary>
/// A valid body for an operation, from which the hostile ones are derived one change at a time. Below a
/// <see cref="FreeForm"/> path any JSON is legal (a payload template, metadata, a config), so only what no store can
/// keep is hostile there; <see cref="AnyRoot"/> means the body itself is free-form (the webhook test's payload). Below a
/// <see cref="Doubles"/> path every member is a 64-bit float (a run's metrics): any finite number is legal there.
/// </summary>
public sealed record Baseline(JsonObject Body, string[] FreeForm, bool AnyRoot = false, string[]? Doubles = null);

public static class HostileCases
{
    private const string Marker = "@@HOSTILE@@";
    public const int BigBodyBytes = 10 * 1024 * 1024;
    public const int DeepNesting = 10_000;

    /// <summary>Valid bodies per operation (by "METHOD path"); the walk fails for an operation with a body and none here.</summary>
    public static IReadOnlyList<Baseline>? BaselinesOf(Operation op, HostileInputFixture fx)
    {
        JsonObject O(string json) => JsonNode.Parse(json)!.AsObject();
        var webhookAutomation = $$$"""
            {"name":"walk automation 2","description":"dispatch","enabled":true,
             "event":{"type":"CREATE_ARTIFACT","collection":"eval-set","aliasRegex":"^prod","tagRegex":"nightly"},
             "action":{"type":"webhook","webhook":"{{{HostileInputFixture.WebhookName}}}","payload":"{\"text\":\"${event_type}\"}"}}
            """;
        var launchAutomation = """
            {"name":"walk automation 3","description":"retrain","enabled":false,
             "event":{"type":"ADD_ARTIFACT_ALIAS","aliasRegex":"^production$"},
             "action":{"type":"launch","job":"walk-job","jobVersion":1,"queue":"walk-queue",
                       "targetProject":"mnist-train","overrides":{"epochs":5,"optimizer":"adam"}}}
            """;
        var notificationAutomation = $$$"""
            {"name":"walk automation 4","event":{"type":"CREATE_ARTIFACT","collection":"eval-set"},
             "action":{"type":"notification","integration":"{{{HostileInputFixture.IntegrationName}}}","title":"New ${artifact_collection_name}","text":"${artifact_version_string}","severity":"warning"}}
            """;
        static string Team(string automation) => automation.Replace("\"event\":{", "\"event\":{\"projectRegex\":\"^mnist\",", StringComparison.Ordinal);
        // A preview's sample is an event as POST /v1/events takes it; a metric value and its history are any finite numbers.
        const string artifactSample =
            """
            {"eventId":"walk-1","eventType":"ADD_ARTIFACT_ALIAS","entity":"acme","project":"mnist","collection":"eval-set",
             "versionId":"QXJ0aWZhY3Q6NTE3ODg5ODg3","versionIndex":3,"alias":"production","tag":"nightly","author":"jane",
             "occurredAt":"2026-11-27T22:41:00Z","metadata":{"accuracy":0.93,"notes":{"head":"h"},"tags":["a"]}}
            """;
        const string runSample =
            """
            {"eventId":"walk-2","eventType":"RUN_METRIC","entity":"acme","project":"mnist","runId":"run-1","runName":"sweep-1","user":"jane",
             "step":40,"metrics":{"val_loss":0.2},"occurredAt":"2026-11-27T22:41:00Z"}
            """;
        JsonObject With(string json, string sample, bool history = false)
        {
            var body = O(json);
            body["sample"] = JsonNode.Parse(sample);
            if (history) body["metricHistory"] = new JsonArray(0.5, 0.4);
            return body;
        }
        // A team configuration file (JSON is a content type the config endpoints take beside YAML): each kind of object once.
        var configFile = $$$"""
            {"version":1,"entity":"acme",
             "webhooks":[{"name":"walk hook 3","url":"https://hooks.example/three","secret":"{{{HostileInputFixture.SecretName}}}"}],
             "queues":[{"name":"walk-queue-3","description":"spare"}],
             "automations":[{"project":"{{{HostileInputFixture.Project}}}","name":"walk automation 5","enabled":true,
               "event":{"type":"CREATE_ARTIFACT","collection":"eval-set","aliasRegex":"^prod"},
               "action":{"type":"webhook","webhook":"walk hook 3","payload":"{\"text\":\"${event_type}\"}"}}]}
            """;
        return (op.Method + " " + op.Path) switch
        {
            "POST /v1/entities/{entity}/projects/{project}/automations/preview" =>
                [new(With(webhookAutomation, artifactSample), ["action.payload", "sample.metadata"]), new(With(launchAutomation, runSample, history: true), ["action.overrides", "sample.metrics", "metricHistory"])],
            "POST /v1/entities/{entity}/projects/{project}/automations/{id}/preview" =>
                [new(With("{}", artifactSample), ["sample.metadata"]), new(With("{}", runSample, history: true), ["sample.metrics", "metricHistory"])],
            // Team automations: the same, with a project regex.
            "POST /v1/entities/{entity}/automations/preview" =>
                [new(With(Team(webhookAutomation), artifactSample), ["action.payload", "sample.metadata"]), new(With(Team(launchAutomation), runSample, history: true), ["action.overrides", "sample.metrics", "metricHistory"])],
            "POST /v1/entities/{entity}/automations/{id}/preview" =>
                [new(With("{}", artifactSample), ["sample.metadata"]), new(With("{}", runSample, history: true), ["sample.metrics", "metricHistory"])],
            "POST /v1/entities/{entity}/members" => [new(O("""{"user":"walk-user","role":"member","email":"walk@example.com"}"""), [])],
            "POST /v1/entities/{entity}/keys" => [new(O("""{"name":"walk key","scopes":["api"],"user":"alice"}"""), [])],
            "POST /v1/entities/{entity}/secrets" => [new(O("""{"name":"WALK_NEW","value":"s3cret"}"""), [])],
            "PUT /v1/entities/{entity}/secrets/{name}" => [new(O("""{"value":"s3cret-2"}"""), [])],
            "POST /v1/entities/{entity}/webhooks" =>
                [new(O($$"""{"name":"walk hook 2","url":"https://hooks.example/two","secret":"{{HostileInputFixture.SecretName}}","accessToken":"{{HostileInputFixture.SecretName}}"}"""), [])],
            "PUT /v1/entities/{entity}/webhooks/{id}" =>
                [new(O($$"""{"name":"{{HostileInputFixture.WebhookName}}","url":"https://hooks.example/walk","secret":"{{HostileInputFixture.SecretName}}"}"""), [])],
            "POST /v1/entities/{entity}/projects/{project}/automations" or "PUT /v1/entities/{entity}/projects/{project}/automations/{id}" =>
                [new(O(webhookAutomation), ["action.payload"]), new(O(launchAutomation), ["action.overrides"]), new(O(notificationAutomation), [])],
            // Team automations: the same bodies with a project regex.
            "POST /v1/entities/{entity}/automations" or "PUT /v1/entities/{entity}/automations/{id}" =>
                [new(O(Team(webhookAutomation)), ["action.payload"]), new(O(Team(launchAutomation)), ["action.overrides"]), new(O(Team(notificationAutomation)), [])],
            "POST /v1/entities/{entity}/integrations" => [new(O("""{"name":"walk slack 2","kind":"slack","url":"https://hooks.example/services/T/B/two"}"""), [])],
            "PUT /v1/entities/{entity}/integrations/{id}" =>
                [new(O($$"""{"name":"{{HostileInputFixture.IntegrationName}}","url":"https://hooks.example/services/T/B/walk"}"""), [])],
            "POST /v1/entities/{entity}/config/plan" or "POST /v1/entities/{entity}/config/apply" => [new(O(configFile), [])],
            "POST /v1/entities/{entity}/queues" => [new(O("""{"name":"walk-queue-2","description":"spare"}"""), [])],
            "PUT /v1/entities/{entity}/queues/{id}" => [new(O($$"""{"name":"{{HostileInputFixture.QueueName}}","description":"walk"}"""), [])],
            "POST /v1/entities/{entity}/jobs" => [new(O("""{"name":"walk-job-2","description":"spare"}"""), [])],
            "PUT /v1/entities/{entity}/jobs/{id}" => [new(O($$"""{"name":"{{HostileInputFixture.JobName}}","description":"walk"}"""), [])],
            "POST /v1/entities/{entity}/jobs/{id}/versions" =>
                [new(O("""{"command":"python","args":["train.py","--lr"],"defaultConfig":{"epochs":3,"name":"base"}}"""), ["defaultConfig"])],
            "PUT /v1/entities/{entity}/alerts" =>
                [new(O($$"""{"consecutiveFailures":5,"failingFor":"PT6H","disableAfter":"P5D","channel":"{{fx.WebhookId}}"}"""), [])],
            "POST /v1/entities/{entity}/webhooks/{id}/enable" =>
                [new(O("""{"redeliverFailedSince":"2026-12-01T00:00:00Z"}"""), []), new(O("""{"redeliverFailed":true}"""), [])],
            "POST /v1/entities/{entity}/webhooks/{id}/test" => [new(O("""{"text":"hello ${event_type}","n":1}"""), [""], AnyRoot: true)],
            "POST /v1/events" => [new(O(
                """
                {"eventId":"walk-1","eventType":"ADD_ARTIFACT_ALIAS","entity":"acme","project":"mnist","collection":"eval-set",
                 "versionId":"QXJ0aWZhY3Q6NTE3ODg5ODg3","versionIndex":3,"alias":"production","tag":"nightly","author":"jane",
                 "occurredAt":"2026-11-27T22:41:00Z","metadata":{"accuracy":0.93,"notes":{"head":"h"},"tags":["a"]}}
                """), ["metadata"]),
                new(O(
                """
                {"eventId":"walk-run-1","eventType":"RUN_STATE","entity":"acme","project":"mnist","runId":"3kq1x9ab","runName":"glad-sky-7",
                 "user":"jane","tags":["baseline","nightly"],"state":"finished","occurredAt":"2026-12-03T21:10:00Z"}
                """), []),
                // One metric: the one legal case (2^63 as its value) is stored once, under this eventId.
                new(O(
                """
                {"eventId":"walk-run-2","eventType":"RUN_METRIC","entity":"acme","project":"mnist","runId":"3kq1x9ab","runName":"glad-sky-7",
                 "user":"jane","tags":["baseline"],"step":4,"metrics":{"val_loss":0.1},"occurredAt":"2026-12-03T21:04:00Z"}
                """), [], Doubles: ["metrics"])],
            "POST /v1/agent/items/{id}/heartbeat" or "POST /v1/agent/items/{id}/running" or "POST /v1/agent/items/{id}/release" =>
                [new(O($$"""{"leaseId":"{{fx.LeaseId}}"}"""), [])],
            "POST /v1/agent/items/{id}/finished" => [new(O($$"""{"leaseId":"{{fx.LeaseId}}","exitCode":0}"""), [])],
            "POST /v1/agent/items/{id}/failed" => [new(O($$"""{"leaseId":"{{fx.LeaseId}}","reason":"could not start"}"""), [])],
            _ => null,
        };
    }

    /// <summary>The valid value of a path parameter: an existing resource of the fixture.</summary>
    public static string PathValue(Operation op, string name, HostileInputFixture fx) => name switch
    {
        "entity" => "acme",
        "project" => HostileInputFixture.Project,
        "queueId" => fx.QueueId.ToString(),
        "version" => "1",
        "name" => HostileInputFixture.SecretName,
        "user" => "bob",
        "id" when op.Path.Contains("/webhooks/{id}", StringComparison.Ordinal) => fx.WebhookId.ToString(),
        "id" when op.Path.Contains("/integrations/{id}", StringComparison.Ordinal) => fx.IntegrationId.ToString(),
        "id" when op.Path.StartsWith("/v1/entities/{entity}/automations/{id}", StringComparison.Ordinal) => fx.TeamAutomationId.ToString(),
        "id" when op.Path.Contains("/automations/{id}", StringComparison.Ordinal) => fx.AutomationId.ToString(),
        "id" when op.Path.Contains("/jobs/{id}", StringComparison.Ordinal) => fx.JobId.ToString(),
        "id" when op.Path.Contains("/queues/{id}", StringComparison.Ordinal) => fx.QueueId.ToString(),
        "id" when op.Path.Contains("/keys/{id}", StringComparison.Ordinal) => fx.SpareKeyId.ToString(),
        "id" when op.Path.Contains("/items/{id}", StringComparison.Ordinal) => fx.ItemId.ToString(),
        _ => Guid.NewGuid().ToString(),
    };

    public static string ValidPath(Operation op, HostileInputFixture fx, string? replace = null, string? with = null)
    {
        var path = op.Path;
        foreach (var name in Operations.PathParameters(op.Path))
            path = path.Replace("{" + name + "}", name == replace ? with! : Uri.EscapeDataString(PathValue(op, name, fx)), StringComparison.Ordinal);
        return path;
    }

    /// <summary>
    /// Already percent-encoded, as they go on the wire. A query parameter must refuse NUL, and an integer one every
    /// value here (400 naming it); a path parameter may also answer 404 (nothing has that name).
    /// </summary>
    private static IEnumerable<(string Name, string Value, bool MustRefuse)> HostileValues(Parameter p)
    {
        var query = p.In == "query";
        var number = p.Type is "integer" or "number";
        yield return ("NUL", "a%00b", query);
        yield return ("invalid UTF-8", "a%FF%FEb", query && number);
        yield return ("an encoded surrogate", "a%ED%A0%80b", query && number);
        yield return ("SQL", "x'%20or%201%3D1--", query && number);
        yield return ("5,000 characters", new string('a', 5000), query && number);
        if (number || p.Type == "uuid")
        {
            yield return ("not a number", "abc", query);
            yield return ("-1", "-1", query && number);
            yield return ("99999999999", "99999999999", query);
            yield return ("1e400", "1e400", query);
        }
    }

    public static IEnumerable<HostileCase> For(Operation op, HostileInputFixture fx)
    {
        var baselines = BaselinesOf(op, fx) ?? [];
        var validBody = baselines.Count > 0 ? Encoding.UTF8.GetBytes(baselines[0].Body.ToJsonString()) : null;

        foreach (var p in op.Parameters)
            foreach (var (name, value, mustRefuse) in HostileValues(p))
            {
                var path = p.In == "path" ? ValidPath(op, fx, p.Name, value) : ValidPath(op, fx) + "?" + p.Name + "=" + value;
                yield return new HostileCase($"{p.In} parameter {p.Name}: {name}", path, validBody, "application/json", p.Name, mustRefuse, ParameterCase: true);
            }

        if (baselines.Count == 0) yield break;
        var target = ValidPath(op, fx);
        var i = 0;
        foreach (var b in baselines)
        {
            var tag = baselines.Count > 1 ? $"[{++i}] " : "";
            foreach (var c in BodyCases(b)) yield return c with { Name = tag + c.Name, Path = target, Field = Prefixed(b, c.Field) };
        }
        foreach (var c in WholeBodyCases(baselines[0])) yield return c with { Path = target, Field = Prefixed(baselines[0], c.Field) };
    }

    /// <summary>A body that is a payload (the webhook test) names its fields under `payload`.</summary>
    private static string? Prefixed(Baseline b, string? field) =>
        !b.AnyRoot || field is null ? field : field == "body" ? "payload" : "payload." + field;

    private static IEnumerable<HostileCase> BodyCases(Baseline b)
    {
        foreach (var (path, node) in Nodes(b.Body, ""))
        {
            var free = IsBelowFreeForm(path, b);
            if (node is JsonValue v && v.GetValueKind() == System.Text.Json.JsonValueKind.String)
            {
                yield return Replace(b, path, $"NUL in {path}", "\"a\\u0000b\""u8.ToArray(), path);
                yield return Replace(b, path, $"lone surrogate in {path}", "\"a\\ud800b\""u8.ToArray(), path);
                yield return Replace(b, path, $"invalid UTF-8 in {path}", [(byte)'"', (byte)'a', 0xFF, 0xFE, (byte)'b', (byte)'"'], path);
                if (!free) yield return Replace(b, path, $"a number for the string {path}", "123"u8.ToArray(), path);
            }
            else if (node is JsonValue n && n.GetValueKind() == System.Text.Json.JsonValueKind.Number)
            {
                yield return Replace(b, path, $"1e400 in {path}", "1e400"u8.ToArray(), path);
                if (IsDouble(path, b))
                {
                    yield return Replace(b, path, $"2^63 in {path} (a legal 64-bit float)", "9223372036854775808"u8.ToArray(), path) with { MustRefuse = false, MustAccept = true };
                    yield return Replace(b, path, $"a string for the number {path}", "\"NaN\""u8.ToArray(), path);
                    yield return Replace(b, path, $"a boolean for the number {path}", "true"u8.ToArray(), path);
                }
                else if (!free)
                {
                    yield return Replace(b, path, $"2^63 in {path}", "9223372036854775808"u8.ToArray(), path);
                    yield return Replace(b, path, $"a string for the number {path}", "\"abc\""u8.ToArray(), path);
                }
            }
            else if (node is JsonValue t && t.GetValueKind() is System.Text.Json.JsonValueKind.True or System.Text.Json.JsonValueKind.False)
            {
                if (!free) yield return Replace(b, path, $"a string for the boolean {path}", "\"yes\""u8.ToArray(), path);
            }
            else if (node is JsonArray && !free && path.Length > 0)
            {
                yield return Replace(b, path, $"an object for the array {path}", """{"a":1}"""u8.ToArray(), path);
            }
            else if (node is JsonObject)
            {
                if (!free && path.Length > 0) yield return Replace(b, path, $"an array for the object {path}", "[1]"u8.ToArray(), path);
                yield return AddProperty(b, path, $"NUL in a property name of {(path.Length == 0 ? "the body" : path)}",
                    "\"x\\u0000y\":1", path.Length == 0 ? "body" : path);
                yield return AddProperty(b, path, $"1e400 beside {(path.Length == 0 ? "the body" : path)}", "\"huge\":1e400", path.Length == 0 ? "huge" : path + ".huge");
            }
        }
    }

    private static IEnumerable<HostileCase> WholeBodyCases(Baseline b)
    {
        var padded = b.Body.DeepClone().AsObject();
        padded["padding"] = Marker;
        var big = Splice(Encoding.UTF8.GetBytes(padded.ToJsonString()), Encoding.ASCII.GetBytes("\"" + new string('a', BigBodyBytes) + "\""));
        yield return new HostileCase("a 10 MB body", "", big, "application/json", "body", true);

        var deep = new StringBuilder("{\"deep\":");
        deep.Append('[', DeepNesting).Append(']', DeepNesting).Append('}');
        yield return new HostileCase($"nesting {DeepNesting} deep", "", Encoding.ASCII.GetBytes(deep.ToString()), "application/json", "body", true);

        yield return new HostileCase("an empty body", "", [], "application/json", "body", true);
        yield return new HostileCase("a form instead of JSON", "", "name=x&value=y"u8.ToArray(), "application/x-www-form-urlencoded", "body", true);
        yield return new HostileCase("XML instead of JSON", "", "<event><name>x</name></event>"u8.ToArray(), "application/xml", "body", true);
        if (!b.AnyRoot)
        {
            yield return new HostileCase("null instead of an object", "", "null"u8.ToArray(), "application/json", "body", true);
            yield return new HostileCase("an array instead of an object", "", "[]"u8.ToArray(), "application/json", "body", true);
        }
    }

    private static bool IsDouble(string path, Baseline b) =>
        b.Doubles?.Any(d => path.StartsWith(d + ".", StringComparison.Ordinal)) == true;

    private static bool IsBelowFreeForm(string path, Baseline b) =>
        b.FreeForm.Any(f => f.Length == 0 ? path.Length > 0 || b.AnyRoot : path.StartsWith(f + ".", StringComparison.Ordinal) || path.StartsWith(f + "[", StringComparison.Ordinal));

    private static IEnumerable<(string Path, JsonNode Node)> Nodes(JsonNode node, string path)
    {
        yield return (path, node);
        if (node is JsonObject o)
        {
            foreach (var (k, v) in o)
                if (v is not null)
                    foreach (var x in Nodes(v, path.Length == 0 ? k : path + "." + k)) yield return x;
        }
        else if (node is JsonArray a)
        {
            for (var i = 0; i < a.Count; i++)
                if (a[i] is { } v)
                    foreach (var x in Nodes(v, $"{path}[{i}]")) yield return x;
        }
    }

    private static JsonNode At(JsonNode root, string path)
    {
        var node = root;
        foreach (var part in Parts(path)) node = part is int i ? node[i]! : node[(string)part]!;
        return node;
    }

    private static IEnumerable<object> Parts(string path)
    {
        foreach (var dotted in path.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            var bracket = dotted.IndexOf('[', StringComparison.Ordinal);
            yield return bracket < 0 ? dotted : dotted[..bracket];
            if (bracket >= 0)
                foreach (var index in dotted[bracket..].Split(['[', ']'], StringSplitOptions.RemoveEmptyEntries)) yield return int.Parse(index);
        }
    }

    /// <summary>The body with the value at <paramref name="path"/> replaced by raw JSON bytes (which may be invalid UTF-8).</summary>
    private static HostileCase Replace(Baseline b, string path, string name, byte[] raw, string field)
    {
        var copy = b.Body.DeepClone();
        var node = At(copy, path);
        var parent = node.Parent!;
        if (parent is JsonObject po) po[node.GetPropertyName()] = Marker;
        else ((JsonArray)parent)[node.GetElementIndex()] = Marker;
        return new HostileCase(name, "", Splice(Encoding.UTF8.GetBytes(copy.ToJsonString()), raw), "application/json", field, true);
    }

    private static HostileCase AddProperty(Baseline b, string path, string name, string rawProperty, string field)
    {
        var copy = b.Body.DeepClone();
        var target = path.Length == 0 ? copy.AsObject() : At(copy, path).AsObject();
        target[Marker] = 0;
        var json = Encoding.UTF8.GetBytes(copy.ToJsonString());
        var token = Encoding.UTF8.GetBytes($"\"{Marker}\":0");
        return new HostileCase(name, "", Splice(json, Encoding.UTF8.GetBytes(rawProperty), token), "application/json", field, true);
    }

    private static byte[] Splice(byte[] json, byte[] raw, byte[]? token = null)
    {
        token ??= Encoding.UTF8.GetBytes($"\"{Marker}\"");
        var at = json.AsSpan().IndexOf(token);
        if (at < 0) throw new InvalidOperationException("marker not found");
        return [.. json.AsSpan(0, at), .. raw, .. json.AsSpan(at + token.Length)];
    }
}
