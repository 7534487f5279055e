using MassTransit;
using Npgsql;

namespace Automations.ServiceDefaults;

/// <summary>
/// The in-memory retry policy of every consumer, as two MassTransit retry filters (the first configured is the outer
/// one). No broker delays anywhere: Debian's RabbitMQ has no delayed-message plugin.
/// </summary>
/// <remarks>
/// Immediate retries alone would send a message to <c>&lt;queue&gt;_error</c> whenever PostgreSQL restarts or fails
/// over, and leave its run Pending for good. A transient failure therefore waits for the database, about half a
/// minute per try of the outer filter, while the message stays unacknowledged; a
/// poison message (a bug, bad data) still reaches the error queue at once with its exception.
/// </remarks>
public static class ConsumerRetry
{
    /// <summary>Outer: any exception, three more tries at once.</summary>
    public static void Immediate(IRetryConfigurator r) => r.Immediate(3);

    /// <summary>Inner: only transient infrastructure failures (a PostgreSQL restart or failover, a pool exhausted, a timeout), with growing pauses (~31 s in all).</summary>
    public static void Transient(IRetryConfigurator r)
    {
        r.Handle<Exception>(IsTransient);
        r.Intervals(100, 250, 500, 1_000, 2_000, 4_000, 8_000, 15_000);
    }

    /// <summary>What counts as a transient infrastructure failure, here and wherever a service retries a write in place.</summary>
    public static bool IsTransient(Exception ex) => ex is NpgsqlException { IsTransient: true } or TimeoutException;

    /// <summary>Both filters on an endpoint's consume pipe (every consumer's definition sets them: <see cref="RetryingConsumerDefinition{TConsumer}"/>).</summary>
    public static void UseConsumerRetry(this IConsumePipeConfigurator configurator)
    {
        configurator.UseMessageRetry(Immediate);
        configurator.UseMessageRetry(Transient);
    }
}
