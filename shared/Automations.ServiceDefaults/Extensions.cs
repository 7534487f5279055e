using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using BadHttpRequestException = Microsoft.AspNetCore.Http.BadHttpRequestException;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Automations.ServiceDefaults;

public static class Extensions
{
    public const string LiveTag = "live";
    public const string ReadyTag = "ready";

    /// <summary>
    /// The largest request body any service reads (Kestrel's default is 30 MB). The largest legitimate one, an automation
    /// with a 64 Ki-character payload template, is well under it; Ingestion refuses event bodies past 256 KiB itself.
    /// </summary>
    public const long MaxRequestBodyBytes = 1024 * 1024;

    /// <summary>
    /// Everything every service has: JSON logs carrying the trace id, OpenTelemetry traces and metrics (OTLP when
    /// OTEL_EXPORTER_OTLP_ENDPOINT is set), the PostgreSQL data source and health checks (migrations at start are
    /// Persistence's AddMigrateOnStart).
    /// </summary>
    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder, string serviceName)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddJsonConsole(o =>
        {
            o.IncludeScopes = true;
            o.UseUtcTimestamp = true;
            o.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ";
        });
        builder.Logging.Configure(o => o.ActivityTrackingOptions = ActivityTrackingOptions.TraceId | ActivityTrackingOptions.SpanId);

        var postgres = builder.Configuration.GetConnectionString("Postgres")
            ?? throw new InvalidOperationException("ConnectionStrings:Postgres is not set");
        builder.Services.AddSingleton(_ =>
        {
            var dsb = new NpgsqlDataSourceBuilder(postgres);
            dsb.ConnectionStringBuilder.ApplicationName ??= serviceName;
            // Every service runs the same few statements thousands of times a second: prepared once per connection,
            // PostgreSQL skips parsing and planning them (Npgsql's auto-prepare is off unless asked for).
            // A connection string that names "Max Auto Prepare" keeps its own value.
            if (!postgres.Contains("Auto Prepare", StringComparison.OrdinalIgnoreCase))
                dsb.ConnectionStringBuilder.MaxAutoPrepare = 128;
            // No service keeps session state on a pooled connection (the relays' LISTEN has its own, never returned
            // healthy), so the reset that would run before each reuse is only cost.
            if (!postgres.Contains("Reset On Close", StringComparison.OrdinalIgnoreCase))
                dsb.ConnectionStringBuilder.NoResetOnClose = true;
            // The only batches are the group commits (Automations.Persistence), and each has a span of its own: the statement
            // count and a link to every caller's span. Npgsql's span of a batch carries the text of all its statements joined
            // (up to 64 of a few KB each), built for every batch: per event, the largest string the services made.
            dsb.ConfigureTracing(t => t.ConfigureBatchFilter(_ => false));
            return dsb.Build();
        });

        var otel = builder.Services.AddOpenTelemetry()
            .ConfigureResource(r => r.AddService(serviceName))
            .WithTracing(t => t
                .AddSource(Telemetry.Name, "MassTransit")
                .AddAspNetCoreInstrumentation(o => o.Filter = ctx => !ctx.Request.Path.StartsWithSegments("/health", StringComparison.Ordinal))
                .AddHttpClientInstrumentation(o =>
                {
                    o.EnrichWithHttpRequestMessage = Http.SecretUrls.Redact;
                    o.EnrichWithHttpResponseMessage = (activity, response) => Http.SecretUrls.Redact(activity, response.RequestMessage);
                })
                .AddNpgsql())
            .WithMetrics(m => m
                .AddMeter(Telemetry.Name, "MassTransit")
                .AddAspNetCoreInstrumentation()
                .AddHttpClientInstrumentation()
                .AddRuntimeInstrumentation());
        if (!string.IsNullOrWhiteSpace(builder.Configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
            otel.UseOtlpExporter();

        builder.Services.AddHealthChecks()
            .AddCheck("self", () => HealthCheckResult.Healthy(), [LiveTag])
            .AddCheck<PostgresHealthCheck>("postgres", tags: [ReadyTag]);
        builder.Services.AddSingleton<PostgresHealthCheck>();

        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(25));

        // A body past the limit fails while it is read, with a BadHttpRequestException: HttpInput answers it (413).
        builder.Services.Configure<KestrelServerOptions>(o => o.Limits.MaxRequestBodySize = MaxRequestBodyBytes);
        return builder;
    }

    /// <summary>
    /// The MassTransit bus on RabbitMQ: usage telemetry off, start awaited (a bus that cannot start fails the host),
    /// quorum queues when RabbitMq:QuorumQueues is true. No delayed redelivery anywhere: Debian's broker has no
    /// delayed-exchange plugin (long retries live in PostgreSQL).
    /// </summary>
    public static IHostApplicationBuilder AddAutomationsBus(
        this IHostApplicationBuilder builder,
        Action<IBusRegistrationConfigurator>? configure = null,
        Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator>? configureBus = null)
    {
        var settings = RabbitMqSettings.Parse(builder.Configuration.GetConnectionString("RabbitMq"));
        var quorum = builder.Configuration.GetValue("RabbitMq:QuorumQueues", false);
        var prefetch = builder.Configuration.GetValue("RabbitMq:PrefetchCount", 32);
        builder.Services.AddSingleton(settings);
        builder.Services.Configure<MassTransitHostOptions>(o =>
        {
            o.WaitUntilStarted = true;
            o.StartTimeout = TimeSpan.FromSeconds(60);
            o.StopTimeout = TimeSpan.FromSeconds(20);
            // Messages still being handled this long after the stop began have their ConsumeContext.CancellationToken
            // cancelled: MassTransit counts what then ends in an OperationCanceledException (a retry's pause, a write not
            // sent yet, any failure after it) as not consumed: neither acked nor faulted, the broker hands it out again.
            // Shorter than StopTimeout, so the rest of the stop (closing the channels) still runs inside it; without
            // it a message in the transient retry (~31 s) would hold the stop until StopTimeout gives up waiting.
            o.ConsumerStopTimeout = TimeSpan.FromSeconds(15);
        });
        builder.Services.AddMassTransit(x =>
        {
            x.DisableUsageTelemetry();
            x.SetKebabCaseEndpointNameFormatter();
            if (quorum)
                x.AddConfigureEndpointsCallback((_, _, cfg) =>
                {
                    if (cfg is IRabbitMqReceiveEndpointConfigurator rmq) rmq.SetQuorumQueue();
                });
            configure?.Invoke(x);
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(settings.Host, settings.Port, settings.VirtualHost, h =>
                {
                    h.Username(settings.Username);
                    h.Password(settings.Password);
                });
                cfg.PrefetchCount = prefetch;
                configureBus?.Invoke(context, cfg);
                cfg.ConfigureEndpoints(context);
            });
        });
        return builder;
    }

    public static WebApplication MapDefaultEndpoints(this WebApplication app)
    {
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = r => r.Tags.Contains(LiveTag) });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = r => r.Tags.Contains(ReadyTag),
            ResponseWriter = WriteHealth,
        });
        return app;
    }

    private static Task WriteHealth(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsJsonAsync(new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), e.Value.Description }),
        });
    }

    /// <summary>
    /// "The database is reachable", on a connection of its own: under load every connection of the service's pool may be
    /// busy for a while, which is work being done, not a fault; a probe that waited behind it would time out and take a
    /// working replica out of service. A backlog (outbox rows, pending deliveries, queued messages) is not checked:
    /// ready means the service can take work, and a replica with a backlog is the one that should keep taking it.
    /// </summary>
    private sealed class PostgresHealthCheck : IHealthCheck, IDisposable
    {
        private readonly NpgsqlDataSource _probe;

        public PostgresHealthCheck(IConfiguration configuration)
        {
            var csb = new NpgsqlConnectionStringBuilder(configuration.GetConnectionString("Postgres"))
            {
                ApplicationName = "health",
                MaxPoolSize = 1,
                Timeout = 3,
                CommandTimeout = 3,
            };
            _probe = new NpgsqlDataSourceBuilder(csb.ConnectionString).Build();
        }

        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                await using var cmd = _probe.CreateCommand("select 1");
                await cmd.ExecuteScalarAsync(cancellationToken);
                return HealthCheckResult.Healthy();
            }
            catch (Exception ex)
            {
                return HealthCheckResult.Unhealthy("PostgreSQL is not reachable: " + ex.GetType().Name);
            }
        }

        public void Dispose() => _probe.Dispose();
    }
}
