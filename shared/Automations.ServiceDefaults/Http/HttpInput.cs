using System.Text.RegularExpressions;
using Automations.Core.Validation;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace Automations.ServiceDefaults.Http;

/// <summary>
/// What every HTTP service answers to input it cannot take, the same in every environment: problem+json for every
/// error status, a 400 naming the parameter for a route or query value that does not bind (`?limit=abc`) or holds a
/// NUL (which no text column stores), the status of any other bad request Kestrel or the framework reports, and a 503
/// with Retry-After for a failure that passes by itself (PostgreSQL restarting, a serialization failure past a store's
/// own retries: <see cref="ConsumerRetry.IsTransient"/>) rather than a 500.
/// </summary>
public static partial class HttpInput
{
    public static IServiceCollection AddHttpInput(this IServiceCollection services)
    {
        services.AddProblemDetails();
        // Without it, a parameter that does not bind is a bare 400 outside Development and an unhandled exception (500) in it.
        services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        services.AddExceptionHandler<BadRequestHandler>();
        services.AddExceptionHandler<TransientHandler>();
        // The caller's fault (a body past the limit, a value that does not bind), answered by BadRequestHandler: not
        // logged as an unhandled error.
        services.Configure<ExceptionHandlerOptions>(o => o.SuppressDiagnosticsCallback = c => c.Exception is BadHttpRequestException);
        return services;
    }

    public static WebApplication UseHttpInput(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        app.Use(RefuseUnstorableParametersAsync);
        return app;
    }

    private static async Task RefuseUnstorableParametersAsync(HttpContext http, RequestDelegate next)
    {
        foreach (var (name, value) in http.Request.RouteValues)
            if (value is string s && StorableText.Problem(s) is { } problem)
            {
                await JsonBody.Invalid(name, problem).ExecuteAsync(http);
                return;
            }
        foreach (var (name, values) in http.Request.Query)
            foreach (var value in values)
                if ((StorableText.Problem(name) ?? StorableText.Problem(value)) is { } problem)
                {
                    await JsonBody.Invalid(StorableText.Scrub(name), problem).ExecuteAsync(http);
                    return;
                }
        await next(http);
    }

    /// <summary>
    /// A database failure that passes by itself: 503 with Retry-After, so that a client retries (a Launch agent does for
    /// any 5xx). Its message is not answered; the exception is logged by the middleware as any other.
    /// </summary>
    private sealed class TransientHandler : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
        {
            if (!ConsumerRetry.IsTransient(exception) || http.Response.HasStarted) return false;
            var seconds = http.RequestServices.GetService<HttpLimitOptions>()?.RetryAfterSeconds ?? 1;
            http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            await Results.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Temporarily unavailable",
                detail: "The database did not take the request just now; try again.").ExecuteAsync(http);
            return true;
        }
    }

    // RequestDelegateFactory's messages: `Failed to bind parameter "int? limit" from "abc".`, `Required parameter "Guid id" was not provided from route.`
    [GeneratedRegex("""parameter "(?<type>[^"]*?) ?(?<name>[A-Za-z_][A-Za-z0-9_]*)" """, RegexOptions.ExplicitCapture)]
    private static partial Regex BindingMessage();

    /// <summary>A request the framework or Kestrel refused (BadHttpRequestException): its own status, as problem+json naming the parameter.</summary>
    private sealed class BadRequestHandler : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext http, Exception exception, CancellationToken ct)
        {
            if (exception is not BadHttpRequestException bad) return false;
            var match = BindingMessage().Match(bad.Message);
            IResult result;
            if (bad.StatusCode == StatusCodes.Status400BadRequest && match.Success)
            {
                var type = match.Groups["type"].Value;
                var expected = type.Contains("int", StringComparison.OrdinalIgnoreCase) ? $"an integer from {int.MinValue} to {int.MaxValue}"
                    : type.Contains("Guid", StringComparison.Ordinal) ? "a UUID"
                    : type.Contains("DateTime", StringComparison.Ordinal) ? "an ISO 8601 timestamp"
                    : "a valid value";
                result = JsonBody.Invalid(match.Groups["name"].Value, bad.Message.StartsWith("Required", StringComparison.Ordinal) ? "is required" : $"must be {expected}");
            }
            else
            {
                result = Results.Problem(statusCode: bad.StatusCode, title: "Bad request",
                    detail: bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? "The body is too large." : "The request could not be read.");
            }
            await result.ExecuteAsync(http);
            return true;
        }
    }
}
