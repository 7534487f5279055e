using System.Diagnostics;
using System.Text;
using Automations.Contracts;
using Automations.Core.Events;
using Automations.Core.Validation;
using Automations.Ingestion.Events;
using Automations.Persistence.Control;
using Automations.ServiceDefaults;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Options;
using Npgsql;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Automations.Ingestion.Amqp;

public sealed class AmqpIntakeOptions
{
    public string Queue { get; set; } = "ingestion-artifact-events";
    public ushort Prefetch { get; set; } = 64;
    public bool QuorumQueue { get; set; }
}

/// <summary>
/// Consumes the raw JSON that producers in any language publish to the topic exchange "artifact-events".
/// Written on RabbitMQ.Client rather than a MassTransit receive endpoint because every message, malformed JSON
/// included, must be acknowledged only after it is either stored as an event or kept in ingestion.rejected_events
/// with its reason; MassTransit's raw deserializer would send bad JSON to an _error queue before our code sees it.
/// </summary>
public sealed class AmqpIntake(
    RabbitMqSettings settings,
    IOptions<AmqpIntakeOptions> options,
    IConfiguration configuration,
    EventStore store,
    NpgsqlDataSource dataSource,
    IMemoryCache cache,
    IngestionMetrics metrics,
    ILogger<AmqpIntake> logger) : BackgroundService
{
    private IConnection? _connection;

    /// <summary>True once the exchange, queue and binding exist and the consumer is registered (part of /health/ready).</summary>
    public bool Consuming => _connection is { IsOpen: true } && _consuming;
    private volatile bool _consuming;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var quorum = o.QuorumQueue || configuration.GetValue("RabbitMq:QuorumQueues", false);
        var factory = new ConnectionFactory
        {
            HostName = settings.Host,
            Port = settings.Port,
            VirtualHost = settings.VirtualHost,
            UserName = settings.Username,
            Password = settings.Password,
            AutomaticRecoveryEnabled = true,
            TopologyRecoveryEnabled = true,
            NetworkRecoveryInterval = TimeSpan.FromSeconds(2),
            ClientProvidedName = "automations-ingestion-intake",
            ConsumerDispatchConcurrency = 1,
        };
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                _connection = await factory.CreateConnectionAsync(stoppingToken);
                var channel = await _connection.CreateChannelAsync(cancellationToken: stoppingToken);
                await channel.ExchangeDeclareAsync(Exchanges.ArtifactEvents, ExchangeType.Topic, durable: true, autoDelete: false, cancellationToken: stoppingToken);
                var args = quorum ? new Dictionary<string, object?> { ["x-queue-type"] = "quorum" } : null;
                await channel.QueueDeclareAsync(o.Queue, durable: true, exclusive: false, autoDelete: false, arguments: args, cancellationToken: stoppingToken);
                await channel.QueueBindAsync(o.Queue, Exchanges.ArtifactEvents, "#", cancellationToken: stoppingToken);
                await channel.BasicQosAsync(0, o.Prefetch, false, stoppingToken);
                var consumer = new AsyncEventingBasicConsumer(channel);
                consumer.ReceivedAsync += (_, ea) => HandleAsync(channel, ea, stoppingToken);
                await channel.BasicConsumeAsync(o.Queue, autoAck: false, consumer, stoppingToken);
                _consuming = true;
                logger.LogInformation("Consuming raw artifact events from exchange {Exchange} via queue {Queue} on {Broker}", Exchanges.ArtifactEvents, o.Queue, settings);
                await Task.Delay(Timeout.Infinite, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                _consuming = false;
                logger.LogWarning(ex, "AMQP intake cannot reach the broker at {Broker}; retrying", settings);
                if (_connection is not null) { try { await _connection.DisposeAsync(); } catch (Exception) { } _connection = null; }
                try { await Task.Delay(TimeSpan.FromSeconds(2), stoppingToken); } catch (OperationCanceledException) { break; }
            }
        }
    }

    private async Task HandleAsync(IChannel channel, BasicDeliverEventArgs ea, CancellationToken ct)
    {
        var parent = ExtractParent(ea.BasicProperties);
        using var activity = Telemetry.Source.StartActivity($"{Exchanges.ArtifactEvents} receive", ActivityKind.Consumer, parent);
        activity?.SetTag("messaging.system", "rabbitmq");
        activity?.SetTag("messaging.destination.name", Exchanges.ArtifactEvents);
        activity?.SetTag("messaging.rabbitmq.destination.routing_key", ea.RoutingKey);
        try
        {
            var evt = EventValidator.Validate(ea.Body.Span);
            string? rejection = null;
            string? reasonTag = null;
            if (!evt.Valid)
            {
                rejection = EventValidator.Describe(evt.Errors);
                reasonTag = evt.Errors[0].Field == "body" ? "malformed" : "invalid";
            }
            else if (!await EntityExistsAsync(evt.Entity, ct))
            {
                rejection = $"entity: unknown entity \"{evt.Entity}\"";
                reasonTag = "unknown_entity";
            }

            if (rejection is not null)
            {
                // An oversized body is kept up to the size an event may have: enough to see what it was.
                var raw = ea.Body.Length > EventValidator.MaxBodyBytes ? ea.Body[..EventValidator.MaxBodyBytes] : ea.Body;
                await store.RejectAsync("amqp", ea.RoutingKey, ea.BasicProperties.MessageId, rejection, raw, ct);
                metrics.Rejected("amqp", reasonTag!);
                activity?.SetStatus(ActivityStatusCode.Error, "rejected");
                logger.LogWarning("Rejected an AMQP event (routing key {RoutingKey}): {Reason}", StorableText.Scrub(ea.RoutingKey), rejection);
            }
            else
            {
                var accepted = evt;
                activity?.SetTag("automations.entity", accepted.Entity);
                activity?.SetTag("automations.project", accepted.Project);
                activity?.SetTag("automations.event_type", accepted.EventType);
                try
                {
                    var result = accepted.Run is { } run ? await store.StoreAsync(run, "amqp", ct) : await store.StoreAsync(accepted.Artifact!, "amqp", ct);
                    activity?.SetTag("automations.event_id", result.Id);
                    if (result.Duplicate) metrics.Duplicate("amqp");
                    else metrics.Accepted("amqp", accepted.EventType);
                }
                catch (PostgresException ex) when (ex.SqlState.StartsWith("22", StringComparison.Ordinal))
                {
                    // Class 22 is the data's fault, not the database's: requeueing it would fail forever. The validator
                    // should have refused it; keep it with the state (not PostgreSQL's message, which may quote the value).
                    var reason = $"body: the database refused a value of this event (SQLSTATE {ex.SqlState})";
                    await store.RejectAsync("amqp", ea.RoutingKey, ea.BasicProperties.MessageId, reason, ea.Body, ct);
                    metrics.Rejected("amqp", "unstorable");
                    activity?.SetStatus(ActivityStatusCode.Error, "rejected");
                    logger.LogError("Rejected an AMQP artifact event the validator accepted but PostgreSQL refused (SQLSTATE {SqlState})", ex.SqlState);
                }
            }
            await channel.BasicAckAsync(ea.DeliveryTag, false, ct);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested)
        {
            // Not the message's fault (database down): hand it back and try again shortly.
            logger.LogWarning(ex, "Could not store an AMQP artifact event; requeueing it");
            activity?.SetStatus(ActivityStatusCode.Error, ex.GetType().Name);
            try { await Task.Delay(TimeSpan.FromSeconds(1), ct); } catch (OperationCanceledException) { }
            try { await channel.BasicNackAsync(ea.DeliveryTag, false, requeue: true, CancellationToken.None); } catch (Exception) { }
        }
    }

    private async Task<bool> EntityExistsAsync(string entity, CancellationToken ct) =>
        await cache.GetOrCreateAsync("entity:" + entity, async e =>
        {
            var id = await EntityQueries.FindEntityIdAsync(dataSource, entity, ct);
            e.AbsoluteExpirationRelativeToNow = id is null ? TimeSpan.FromSeconds(2) : TimeSpan.FromMinutes(5);
            return id is not null;
        });

    private static ActivityContext ExtractParent(IReadOnlyBasicProperties props)
    {
        if (props.Headers is null) return default;
        string? Header(string name) => props.Headers.TryGetValue(name, out var v) ? v switch
        {
            byte[] b => Encoding.UTF8.GetString(b),
            string s => s,
            _ => null,
        } : null;
        return ActivityContext.TryParse(Header("traceparent"), Header("tracestate"), out var ctx) ? ctx : default;
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (_connection is not null) await _connection.DisposeAsync();
    }
}

public sealed class AmqpIntakeHealthCheck(AmqpIntake intake) : Microsoft.Extensions.Diagnostics.HealthChecks.IHealthCheck
{
    public Task<Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult> CheckHealthAsync(
        Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(intake.Consuming
            ? Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Healthy()
            : Microsoft.Extensions.Diagnostics.HealthChecks.HealthCheckResult.Unhealthy("not consuming from the artifact-events exchange"));
}
