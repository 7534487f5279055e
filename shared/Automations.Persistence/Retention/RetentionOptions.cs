namespace Automations.Persistence.Retention;

/// <summary>
/// Configuration section "Retention": how long each kind of row is kept, and the partitions that make dropping it cheap
/// (docs/operations.md "Retention").
/// </summary>
public sealed class RetentionOptions
{
    /// <summary>History: accepted and rejected events, runs, deliveries and attempts, finished queue items.</summary>
    public TimeSpan History { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// How long a producer's eventId is a duplicate (at least this, at most this plus one <see cref="Interval"/>). Longer
    /// than any producer's retry horizon; never more than the events are kept.
    /// </summary>
    public TimeSpan DedupeWindow { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// How long a consumer's inbox remembers a message id. Longer than any redelivery horizon: the broker's redelivery
    /// and the outbox relay's retries are minutes, the sender's retry schedule about 28 hours (WebhookOptions).
    /// </summary>
    public TimeSpan Inbox { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The time each partition covers: rows leave one partition at a time, so a row lives at most this long past its limit.</summary>
    public TimeSpan Interval { get; set; } = TimeSpan.FromDays(1);

    /// <summary>Partitions kept created ahead of now: writes never wait for maintenance, and survive its absence this many intervals.</summary>
    public int Ahead { get; set; } = 3;

    /// <summary>How often the owning service creates and drops partitions (any replica; one at a time per table).</summary>
    public TimeSpan CheckEvery { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>The first problem with these settings, or null.</summary>
    public string? Problem() =>
        Interval < TimeSpan.FromSeconds(1) ? "Retention:Interval must be at least one second"
        : Ahead < 1 ? "Retention:Ahead must be at least 1"
        : CheckEvery <= TimeSpan.Zero ? "Retention:CheckEvery must be positive"
        : History < Interval ? "Retention:History must be at least one Interval"
        : Inbox < Interval ? "Retention:Inbox must be at least one Interval"
        : DedupeWindow <= TimeSpan.Zero || DedupeWindow > History ? "Retention:DedupeWindow must be positive and at most Retention:History"
        : null;
}
