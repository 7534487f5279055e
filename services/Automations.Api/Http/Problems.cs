using Automations.Persistence;
using Automations.ServiceDefaults.Http;

namespace Automations.Api.Http;

/// <summary>problem+json answers naming the field, and the request-body reader every endpoint uses.</summary>
public static class Problems
{
    public static IResult NotFound(string what) =>
        Results.Problem(statusCode: StatusCodes.Status404NotFound, title: "Not found", detail: $"{what} does not exist.");

    public static IResult Conflict(string field, string detail, IDictionary<string, object?>? extensions = null)
    {
        var ext = new Dictionary<string, object?>(extensions ?? new Dictionary<string, object?>()) { ["field"] = field };
        return Results.Problem(statusCode: StatusCodes.Status409Conflict, title: "Conflict", detail: detail, extensions: ext);
    }

    public static IResult Forbidden(string detail) =>
        Results.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Forbidden", detail: detail);

    public static IResult Unauthorized(string detail) =>
        Results.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Unauthorized", detail: detail);

    public static IResult Invalid(string field, string message) => new Errors().Add(field, message).ToResult();

    /// <summary>
    /// Reads a JSON body: at most 1 MiB (413), storable text in every string (400 naming the field; see
    /// <see cref="JsonBody"/>), bound to <typeparamref name="T"/> (400 naming a field of the wrong type). Answers never
    /// quote the input: it may be a secret value.
    /// </summary>
    public static Task<(T? Value, IResult? Error)> ReadBodyAsync<T>(HttpRequest request, CancellationToken ct) where T : class =>
        JsonBody.ReadAsync<T>(request, Json.Options, ct);
}

/// <summary>Validation errors by field, answered as one problem+json.</summary>
public sealed class Errors
{
    private readonly Dictionary<string, List<string>> _errors = new(StringComparer.Ordinal);

    public bool Any => _errors.Count > 0;

    public Errors Add(string field, string message)
    {
        if (!_errors.TryGetValue(field, out var list)) _errors[field] = list = [];
        list.Add(message);
        return this;
    }

    /// <summary>Every error, field by field, in the order they were added.</summary>
    public IEnumerable<(string Field, string Message)> Items => _errors.SelectMany(e => e.Value.Select(m => (e.Key, m)));

    /// <summary>Adds <paramref name="other"/>'s errors with <paramref name="prefix"/> before each field (`automations[2].` + `event.type`).</summary>
    public Errors AddAll(Errors other, string prefix)
    {
        foreach (var (field, message) in other.Items) Add(prefix + field, message);
        return this;
    }

    public IResult ToResult(IDictionary<string, object?>? extensions = null) => Results.ValidationProblem(
        _errors.ToDictionary(e => e.Key, e => e.Value.ToArray()),
        title: "The request is not valid",
        detail: string.Join("; ", _errors.SelectMany(e => e.Value.Select(m => $"{e.Key}: {m}"))),
        extensions: extensions);
}
