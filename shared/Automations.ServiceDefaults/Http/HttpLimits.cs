using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Automations.ServiceDefaults.Http;

/// <summary>Configuration section "Http": how much HTTP work a service takes at once.</summary>
public sealed class HttpLimitOptions
{
    /// <summary>Requests run at once (health probes and endpoints marked DisableRateLimiting do not count).</summary>
    public int MaxConcurrentRequests { get; set; } = 64;
    /// <summary>Requests waiting for one of those, oldest first; past it a request is answered 503 with Retry-After.</summary>
    public int QueueLimit { get; set; } = 256;
    /// <summary>Open connections Kestrel keeps; past it a new connection is closed at once (no HTTP answer is possible).</summary>
    public long MaxConcurrentConnections { get; set; } = 1024;
    /// <summary>The Retry-After of a 503.</summary>
    public int RetryAfterSeconds { get; set; } = 1;
}

/// <summary>
/// Bounds the memory HTTP can take in a service: each running request may hold a body of up to
/// <see cref="Extensions.MaxRequestBodyBytes"/>, so running requests are counted (a <see cref="ConcurrencyLimiter"/>) and
/// the rest wait in a bounded queue or are refused with 503 and Retry-After, which clients and load balancers retry.
/// Health probes and endpoints marked <c>DisableRateLimiting()</c> are never limited: a busy service is still live and ready.
/// </summary>
/// <remarks>
/// ASP.NET's rate-limiting middleware would do this with a partitioned limiter, and each partitioned limiter (its global
/// one and the one it keeps for endpoint policies) runs a 100 ms timer for as long as the process lives: 20 wake-ups a
/// second in every service, busy or idle, about half of an idle service's CPU. One concurrency limiter needs no timer,
/// so the middleware here is only the glue: acquire, refuse, release.
/// </remarks>
public static class HttpLimits
{
    public static IHostApplicationBuilder AddHttpLimits(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection("Http").Get<HttpLimitOptions>() ?? new HttpLimitOptions();
        builder.Services.AddSingleton(options);
        builder.Services.Configure<KestrelServerOptions>(o => o.Limits.MaxConcurrentConnections = options.MaxConcurrentConnections);
        builder.Services.AddSingleton(new RequestLimiter(new ConcurrencyLimiter(new ConcurrencyLimiterOptions
        {
            PermitLimit = Math.Max(1, options.MaxConcurrentRequests),
            QueueLimit = Math.Max(0, options.QueueLimit),
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
        })));
        return builder;
    }

    /// <summary>Runs each request within the limit (after routing: an endpoint's <c>DisableRateLimiting()</c> is seen).</summary>
    public static IApplicationBuilder UseHttpLimits(this IApplicationBuilder app)
    {
        var limiter = app.ApplicationServices.GetRequiredService<RequestLimiter>().Limiter;
        var retryAfter = app.ApplicationServices.GetRequiredService<HttpLimitOptions>().RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return app.Use(async (context, next) =>
        {
            if (context.Request.Path.StartsWithSegments("/health", StringComparison.Ordinal)
                || context.GetEndpoint()?.Metadata.GetMetadata<DisableRateLimitingAttribute>() is not null)
            {
                await next(context);
                return;
            }
            // A permit that is free comes back at once; else the request waits its turn, or is refused when the queue is full.
            using var lease = await limiter.AcquireAsync(1, context.RequestAborted);
            if (!lease.IsAcquired)
            {
                // The body is written by the status-code pages (problem+json), as for every other error status.
                context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                context.Response.Headers.RetryAfter = retryAfter;
                return;
            }
            await next(context);
        });
    }

    /// <summary>The service's one limiter (its statistics: requests running and waiting).</summary>
    public sealed record RequestLimiter(ConcurrencyLimiter Limiter);
}
