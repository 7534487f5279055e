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
/// <see cref="Extensions.MaxRequestBodyBytes"/>, so running requests are counted (ASP.NET's concurrency limiter) and
/// the rest wait in a bounded queue or are refused with 503 and Retry-After, which clients and load balancers retry.
/// Health probes are never limited: a busy service is still live and ready.
/// </summary>
public static class HttpLimits
{
    public static IHostApplicationBuilder AddHttpLimits(this IHostApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection("Http").Get<HttpLimitOptions>() ?? new HttpLimitOptions();
        builder.Services.AddSingleton(options);
        builder.Services.Configure<KestrelServerOptions>(o => o.Limits.MaxConcurrentConnections = options.MaxConcurrentConnections);
        builder.Services.AddRateLimiter(o =>
        {
            o.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(http =>
                http.Request.Path.StartsWithSegments("/health", StringComparison.Ordinal)
                    ? RateLimitPartition.GetNoLimiter("health")
                    : RateLimitPartition.GetConcurrencyLimiter("requests", _ => new ConcurrencyLimiterOptions
                    {
                        PermitLimit = Math.Max(1, options.MaxConcurrentRequests),
                        QueueLimit = Math.Max(0, options.QueueLimit),
                        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                    }));
            o.RejectionStatusCode = StatusCodes.Status503ServiceUnavailable;
            // The body is written by the status-code pages (problem+json), as for every other error status.
            o.OnRejected = (context, _) =>
            {
                context.HttpContext.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                return ValueTask.CompletedTask;
            };
        });
        return builder;
    }
}
