using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Automations.Security.Tests.HostileInput;

namespace Automations.Security.Tests;

/// <summary>
/// The hostile-input walk: every operation of the Api (from its OpenAPI document), Ingestion's POST /v1/events and the
/// agent API (listed in <see cref="Operations"/>, as those two publish no document), each sent, by its proper caller,
/// NUL, invalid UTF-8 and lone surrogates in every string and property name, wrong types, huge numbers, bad path and
/// query parameters, a 10 MB body, 10,000-deep nesting, an empty body and the wrong content type. No answer may be a
/// 5xx; a refusal is problem+json and a 400 names the field or parameter; nothing refused leaves a row behind; a legal
/// value that only looks hostile (2^63 as a run's metric) is accepted and stored; every service still answers /health/ready.
/// </summary>
[Trait("Category", "Security")]
public class Walking_every_operation_with_hostile_input(HostileInputFixture fx) : IClassFixture<HostileInputFixture>
{
    public static TheoryData<string> AllOperations => Operations.Keys;

    [Theory]
    [MemberData(nameof(AllOperations))]
    public async Task Should_refuse_hostile_input_with_a_4xx_naming_the_field_and_store_nothing(string operation)
    {
        var op = Operations.Find(operation);
        var failures = new List<string>();
        var cases = 0;
        foreach (var c in HostileCases.For(op, fx))
        {
            cases++;
            var before = await fx.StoredStateAsync();
            var (status, contentType, text) = await SendAsync(op, c);
            if (Judge(c, status, contentType, text) is { } verdict) failures.Add($"{c.Name}: {verdict}");
            var changed = await fx.StoredStateAsync() != before;
            if (c.MustAccept && status is >= 200 and < 300 && !changed) failures.Add($"{c.Name}: answered {status} and stored nothing");
            else if (!c.MustAccept && changed) failures.Add($"{c.Name}: answered {status} and something was stored or changed");
        }
        if (await fx.UnreadyServiceAsync() is { } down) failures.Add(down);
        Assert.True(cases > 0 || op.Parameters.Count == 0, $"{operation} has parameters but no hostile case");
        Assert.True(failures.Count == 0, $"{operation}: {failures.Count} of {cases} cases failed:\n" + string.Join("\n", failures));
    }

    [Fact]
    public async Task Should_walk_the_operations_the_served_OpenAPI_document_lists()
    {
        using var response = await fx.Api.Client.GetAsync("/openapi/v1.json");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var served = Operations.FromOpenApi(await response.Content.ReadAsStringAsync()).Select(o => o.Key).Order().ToArray();
        Assert.Equal(Operations.FromOpenApi(Operations.ApiDocument).Select(o => o.Key).Order().ToArray(), served);
        Assert.True(served.Length >= 40, $"only {served.Length} operations in the Api's OpenAPI document");

        var withoutBaseline = Operations.All.Where(o => o.HasBody && HostileCases.BaselinesOf(o, fx) is null).Select(o => o.Key).ToArray();
        Assert.True(withoutBaseline.Length == 0, "operations with a body but no valid body to derive hostile ones from: " + string.Join(", ", withoutBaseline));
    }

    [Fact]
    public async Task Should_list_only_operations_the_unpublished_services_really_route()
    {
        foreach (var op in Operations.Listed)
        {
            var (status, _, text) = await SendAsync(op, new HostileCase("no key", HostileCases.ValidPath(op, fx), null, "application/json", null, false), key: null);
            Assert.True(status == 401, $"{op.Key} without a key answered {status} (not routed?): {text}");
        }
    }

    private async Task<(int Status, string? ContentType, string Text)> SendAsync(Operation op, HostileCase c) =>
        await SendAsync(op, c, fx.KeyOf(op.Service switch { Service.Ingestion => Principal.EventsOnlyKey, Service.Agent => Principal.AgentKey, _ => Principal.Admin }));

    private async Task<(int Status, string? ContentType, string Text)> SendAsync(Operation op, HostileCase c, string? key)
    {
        var host = op.Service switch { Service.Ingestion => fx.Ingestion, Service.Agent => fx.Launch, _ => fx.Api };
        using var request = new HttpRequestMessage(new HttpMethod(op.Method), new Uri(host.BaseAddress, c.Path));
        if (c.Body is not null)
        {
            request.Content = new ByteArrayContent(c.Body);
            request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(c.ContentType);
            // As curl does past 1 MiB: a refused upload is answered before it is sent (one sent anyway has its connection closed after the 413).
            if (c.Body.Length > 1024 * 1024) request.Headers.ExpectContinue = true;
        }
        if (key is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        try
        {
            using var response = await host.Client.SendAsync(request);
            return ((int)response.StatusCode, response.Content.Headers.ContentType?.MediaType, await response.Content.ReadAsStringAsync());
        }
        catch (HttpRequestException ex)
        {
            return (0, null, $"no answer: {ex.Message}");
        }
    }

    private static string? Judge(HostileCase c, int status, string? contentType, string text)
    {
        if (status is 0 or >= 500) return $"answered {(status == 0 ? "nothing" : status)}: {Shorten(text)}";
        if (c.MustAccept && status is not (>= 200 and < 300)) return $"a legal value, expected it accepted, got {status}: {Shorten(text)}";
        // Kestrel itself refuses a path that decodes to a NUL, before any service code runs: that answer has no body to name anything in.
        if (status == 400 && text.Length == 0 && c.ParameterCase && c.Path.Split('?')[0].Contains("%00", StringComparison.Ordinal)) return null;
        if (status >= 400)
        {
            if (contentType != "application/problem+json") return $"answered {status} as {contentType ?? "no content type"}, not problem+json: {Shorten(text)}";
            if (status == 400 && c.Field is { } field && !Names(text, field)) return $"answered 400 without naming {field}: {Shorten(text)}";
        }
        if (!c.MustRefuse) return null;
        if (c.ParameterCase) return status == 400 ? null : $"expected 400 naming {c.Field}, got {status}: {Shorten(text)}";
        return status is 400 or 413 or 415 ? null : $"expected a refusal (400, 413 or 415), got {status}: {Shorten(text)}";
    }

    /// <summary>A problem names the field when a key of its errors (or its field extension) is the field or an ancestor of it, or its detail quotes it.</summary>
    private static bool Names(string problem, string field)
    {
        try
        {
            using var doc = JsonDocument.Parse(problem);
            var p = doc.RootElement;
            if (p.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object && errors.EnumerateObject().Any(e => Covers(e.Name, field)))
                return true;
            if (p.TryGetProperty("field", out var f) && f.ValueKind == JsonValueKind.String && Covers(f.GetString()!, field)) return true;
            return p.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String && d.GetString()!.Contains(field, StringComparison.Ordinal);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool Covers(string key, string field) =>
        string.Equals(key, field, StringComparison.OrdinalIgnoreCase) || (key.Length > 0 && key != "body" &&
            (field.StartsWith(key + ".", StringComparison.OrdinalIgnoreCase) || field.StartsWith(key + "[", StringComparison.OrdinalIgnoreCase)));

    private static string Shorten(string s) => s.Length > 300 ? s[..300] + "…" : s;
}
