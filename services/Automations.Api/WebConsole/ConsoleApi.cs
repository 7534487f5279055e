using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Automations.Api.WebConsole;

/// <summary>An answer of the REST API: status, parsed JSON body (Undefined when empty) and the raw text.</summary>
public sealed record ApiAnswer(HttpStatusCode Status, JsonElement Body, string Text)
{
    public bool Ok => (int)Status is >= 200 and < 300;

    /// <summary>Field errors of a problem+json (validation errors, or the `field` extension of a 409), else the detail under "".</summary>
    public Dictionary<string, List<string>> Errors()
    {
        var result = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
        if (Ok) return result;
        if (Body.ValueKind == JsonValueKind.Object && Body.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Object)
        {
            foreach (var f in errors.EnumerateObject())
                result[f.Name] = f.Value.ValueKind == JsonValueKind.Array ? f.Value.EnumerateArray().Select(e => e.GetString() ?? "").ToList() : [f.Value.ToString()];
            return result;
        }
        var field = Body.ValueKind == JsonValueKind.Object && Body.TryGetProperty("field", out var fe) ? fe.GetString() ?? "" : "";
        result[field] = [Detail];
        return result;
    }

    public string Detail => Body.ValueKind == JsonValueKind.Object
        ? (Body.TryGetProperty("detail", out var d) ? d.GetString() : null) ?? (Body.TryGetProperty("title", out var t) ? t.GetString() : null) ?? $"HTTP {(int)Status}"
        : $"HTTP {(int)Status}";
}

/// <summary>
/// Calls the Api's own REST endpoints over loopback with the signed-in user's key, so the console enforces exactly
/// the API's authorization and validation. The base address is Console:ApiBaseUrl, else the first address Kestrel listens on.
/// </summary>
public sealed class ConsoleApi(IHttpClientFactory clients, IServer server, IConfiguration configuration)
{
    public const string ClientName = "automations-console";
    private Uri? _base;

    private Uri BaseAddress => _base ??= Resolve();

    private Uri Resolve()
    {
        var configured = configuration["Console:ApiBaseUrl"];
        if (!string.IsNullOrWhiteSpace(configured)) return new Uri(configured);
        var addresses = server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        var address = addresses.FirstOrDefault(a => a.StartsWith("http://", StringComparison.OrdinalIgnoreCase)) ?? addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("The server has no address; set Console:ApiBaseUrl.");
        // A wildcard binding (http://+:8080, http://[::]:8080, http://0.0.0.0:8080) is reached on loopback.
        address = address.Replace("://+", "://127.0.0.1", StringComparison.Ordinal).Replace("://*", "://127.0.0.1", StringComparison.Ordinal)
            .Replace("://[::]", "://127.0.0.1", StringComparison.Ordinal).Replace("://0.0.0.0", "://127.0.0.1", StringComparison.Ordinal);
        return new Uri(address);
    }

    public Task<ApiAnswer> GetAsync(string key, string path, CancellationToken ct) => SendAsync(key, HttpMethod.Get, path, null, ct);
    public Task<ApiAnswer> PostAsync(string key, string path, object? body, CancellationToken ct) => SendAsync(key, HttpMethod.Post, path, body, ct);
    public Task<ApiAnswer> PutAsync(string key, string path, object? body, CancellationToken ct) => SendAsync(key, HttpMethod.Put, path, body, ct);
    public Task<ApiAnswer> DeleteAsync(string key, string path, CancellationToken ct) => SendAsync(key, HttpMethod.Delete, path, null, ct);

    /// <param name="body">an object serialized as JSON, or a string sent as it is (a JSON text).</param>
    public async Task<ApiAnswer> SendAsync(string key, HttpMethod method, string path, object? body, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(method, new Uri(BaseAddress, path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (body is string raw) request.Content = new StringContent(raw, Encoding.UTF8, "application/json");
        else if (body is not null) request.Content = new StringContent(JsonSerializer.Serialize(body, JsonSerializerOptions.Web), Encoding.UTF8, "application/json");
        using var client = clients.CreateClient(ClientName);
        using var response = await client.SendAsync(request, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        JsonElement json = default;
        if (text.Length > 0 && (text[0] == '{' || text[0] == '['))
        {
            try { json = JsonDocument.Parse(text).RootElement.Clone(); }
            catch (JsonException) { }
        }
        return new ApiAnswer(response.StatusCode, json, text);
    }

    public static string Seg(string value) => Uri.EscapeDataString(value);
}
