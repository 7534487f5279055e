using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Automations.Console.Api;

/// <summary>
/// An answer of the Api: status, parsed JSON body (Undefined when empty or not JSON). <see cref="Unreachable"/> when the
/// Api did not answer at all (the console shows that, never an exception).
/// </summary>
public sealed record ApiAnswer(HttpStatusCode Status, JsonElement Body, bool Unreachable = false)
{
    public bool Ok => !Unreachable && (int)Status is >= 200 and < 300;

    /// <summary>The problem's detail (else its title), as the Api wrote it; pages pass it through <see cref="FormText.Clean"/>.</summary>
    public string Detail => Unreachable ? "The Automations API did not answer; try again in a moment."
        : Body.ValueKind == JsonValueKind.Object
            ? (Body.TryGetProperty("detail", out var d) && d.ValueKind == JsonValueKind.String ? d.GetString() : null)
              ?? (Body.TryGetProperty("title", out var t) && t.ValueKind == JsonValueKind.String ? t.GetString() : null) ?? $"HTTP {(int)Status}"
            : $"HTTP {(int)Status}";

    /// <summary>A validation problem's errors by the Api's field name, or the `field` extension of a 409 with its detail.</summary>
    public IReadOnlyList<(string Field, string Message)> FieldErrors()
    {
        var result = new List<(string, string)>();
        if (Ok || Body.ValueKind != JsonValueKind.Object) return result;
        if (Body.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
        {
            foreach (var f in errors.EnumerateObject())
                if (f.Value.ValueKind == JsonValueKind.Array)
                    result.AddRange(f.Value.EnumerateArray().Select(e => (f.Name, e.ToString())));
                else result.Add((f.Name, f.Value.ToString()));
            return result;
        }
        if (Body.TryGetProperty("field", out var field) && field.ValueKind == JsonValueKind.String)
            result.Add((field.GetString()!, Detail));
        return result;
    }

    public IEnumerable<JsonElement> Items() => Body.ValueKind == JsonValueKind.Array ? Body.EnumerateArray() : [];

    public string Str(string property) => Str(Body, property);

    public static string Str(JsonElement e, string property) =>
        e.ValueKind == JsonValueKind.Object && e.TryGetProperty(property, out var v) && v.ValueKind is not (JsonValueKind.Null or JsonValueKind.Undefined)
            ? (v.ValueKind == JsonValueKind.String ? v.GetString() ?? "" : v.ToString())
            : "";

    public static DateTimeOffset? Time(JsonElement e, string property) =>
        DateTimeOffset.TryParse(Str(e, property), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var t) ? t : null;
}

/// <summary>
/// The public Api over HTTP (Console:ApiBaseUrl) with the signed-in user's key, so the console can do exactly what the
/// Api lets that user do, and nothing more.
/// </summary>
public sealed class ApiClient(IHttpClientFactory clients, ILogger<ApiClient> logger)
{
    public const string ClientName = "automations-api";

    public Task<ApiAnswer> GetAsync(string key, string path, CancellationToken ct) => SendAsync(key, HttpMethod.Get, path, null, ct);
    public Task<ApiAnswer> PostAsync(string key, string path, object? body, CancellationToken ct) => SendAsync(key, HttpMethod.Post, path, body, ct);
    public Task<ApiAnswer> PutAsync(string key, string path, object? body, CancellationToken ct) => SendAsync(key, HttpMethod.Put, path, body, ct);
    public Task<ApiAnswer> DeleteAsync(string key, string path, CancellationToken ct) => SendAsync(key, HttpMethod.Delete, path, null, ct);

    /// <param name="body">an object serialized as JSON, or a string sent as it is (a JSON text).</param>
    public async Task<ApiAnswer> SendAsync(string key, HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, path);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (body is string raw) request.Content = new StringContent(raw, Encoding.UTF8, "application/json");
        else if (body is not null) request.Content = new StringContent(JsonSerializer.Serialize(body, JsonSerializerOptions.Web), Encoding.UTF8, "application/json");
        try
        {
            using var client = clients.CreateClient(ClientName);
            using var response = await client.SendAsync(request, ct);
            var text = await response.Content.ReadAsStringAsync(ct);
            JsonElement json = default;
            if (text.Length > 0 && (text[0] == '{' || text[0] == '['))
            {
                try { json = JsonDocument.Parse(text).RootElement.Clone(); }
                catch (JsonException) { }
            }
            return new ApiAnswer(response.StatusCode, json);
        }
        catch (Exception ex) when (ex is HttpRequestException || (ex is TaskCanceledException && !ct.IsCancellationRequested))
        {
            // The method and status only: the path may name a secret, never its value, but keep logs plain.
            logger.LogWarning("The Api did not answer a {Method}: {Error}", method.Method, ex.GetType().Name);
            return new ApiAnswer(HttpStatusCode.ServiceUnavailable, default, Unreachable: true);
        }
    }

    public static string Seg(string value) => Uri.EscapeDataString(value);
}

/// <summary>Ready when the Api answers its liveness probe: without it the console can show nothing.</summary>
public sealed class ApiHealthCheck(IHttpClientFactory clients) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            using var cts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            cts.CancelAfter(TimeSpan.FromSeconds(3));
            using var client = clients.CreateClient(ApiClient.ClientName);
            using var response = await client.GetAsync("/health/live", cts.Token);
            return response.IsSuccessStatusCode ? HealthCheckResult.Healthy() : HealthCheckResult.Unhealthy($"The Api answered {(int)response.StatusCode}");
        }
        catch (Exception ex)
        {
            return HealthCheckResult.Unhealthy("The Api is not reachable: " + ex.GetType().Name);
        }
    }
}
