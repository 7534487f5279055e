using System.Buffers;
using System.Text.Json;
using Automations.Core.Validation;
using Microsoft.AspNetCore.Http;

namespace Automations.ServiceDefaults.Http;

/// <summary>
/// How every service reads a JSON request body: at most a given size (413 past it), then <see cref="JsonText"/> (400
/// naming the field that holds a NUL, a lone surrogate, invalid UTF-8 or a number no double holds), then the binding
/// (400 naming the field of the wrong type). Answers never quote the input: it may be a secret.
/// </summary>
public static class JsonBody
{
    /// <summary>The largest body any service reads, Kestrel's limit too (a payload template is at most 64 Ki characters).</summary>
    public const int DefaultMaxBytes = (int)Extensions.MaxRequestBodyBytes;

    /// <returns>The body, or null and a 413 when it is larger than <paramref name="maxBytes"/>.</returns>
    public static async Task<(byte[]? Body, IResult? Error)> ReadBytesAsync(HttpRequest request, int maxBytes, CancellationToken ct)
    {
        if (request.ContentLength > maxBytes) return (null, TooLarge(maxBytes));
        var buffer = ArrayPool<byte>.Shared.Rent(16 * 1024);
        try
        {
            using var ms = new MemoryStream();
            int read;
            while ((read = await request.Body.ReadAsync(buffer, ct)) > 0)
            {
                if (ms.Length + read > maxBytes) return (null, TooLarge(maxBytes));
                ms.Write(buffer, 0, read);
            }
            return (ms.ToArray(), null);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <returns>The body once it passes <see cref="JsonText"/>; else null and the 400 or 413 to answer.</returns>
    public static async Task<(byte[]? Body, IResult? Error)> ReadCheckedAsync(HttpRequest request, CancellationToken ct, int maxBytes = DefaultMaxBytes)
    {
        var (body, error) = await ReadBytesAsync(request, maxBytes, ct);
        if (body is null) return (null, error);
        return JsonText.Check(body) is { } problem ? (null, Invalid(problem.Field, problem.Message)) : (body, null);
    }

    /// <returns>The body bound to <typeparamref name="T"/>; else null and the 400 or 413 to answer.</returns>
    public static async Task<(T? Value, IResult? Error)> ReadAsync<T>(HttpRequest request, JsonSerializerOptions options, CancellationToken ct, int maxBytes = DefaultMaxBytes)
        where T : class
    {
        var (body, error) = await ReadCheckedAsync(request, ct, maxBytes);
        if (body is null) return (null, error);
        try
        {
            var value = JsonSerializer.Deserialize<T>(body, options);
            return value is null ? (null, Invalid("body", "a JSON object is required")) : (value, null);
        }
        catch (JsonException ex)
        {
            var field = FieldOf(ex.Path);
            return (null, field == "body"
                ? Invalid("body", $"is not valid JSON for this request (line {ex.LineNumber + 1})")
                : Invalid(field, "has the wrong type or format for this field"));
        }
    }

    /// <summary>System.Text.Json's path (`$.action.jobVersion`, `$.args[0]`) as the field a problem names.</summary>
    public static string FieldOf(string? jsonPath)
    {
        if (string.IsNullOrEmpty(jsonPath) || jsonPath == "$") return "body";
        var field = jsonPath.StartsWith("$.", StringComparison.Ordinal) ? jsonPath[2..] : jsonPath.TrimStart('$');
        return StorableText.Scrub(field);
    }

    public static IResult Invalid(string field, string message) => Results.ValidationProblem(
        new Dictionary<string, string[]> { [field] = [message] }, title: "The request is not valid", detail: $"{field}: {message}");

    public static IResult TooLarge(int maxBytes) => Results.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Body too large",
        detail: $"The body may be at most {maxBytes} bytes.", extensions: new Dictionary<string, object?> { ["field"] = "body" });
}
