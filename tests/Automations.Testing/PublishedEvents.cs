using Automations.Contracts;

namespace Automations.Testing;

/// <summary>
/// An <see cref="ArtifactEventReceived"/> as Ingestion published it: alone (<paramref name="MessageId"/> is the single
/// message's) or as an item of an <see cref="ArtifactEventsReceived"/> batch (<paramref name="MessageId"/> null,
/// <paramref name="Traceparent"/> the item's).
/// </summary>
public sealed record PublishedEvent(ArtifactEventReceived Event, Guid? MessageId, string? Traceparent)
{
    public bool InBatch => MessageId is null;
}

/// <summary>Watching Ingestion's artifact events in both forms: a <see cref="MessageProbe"/> on ArtifactEventReceived and
/// ArtifactEventsReceived.</summary>
public static class PublishedEvents
{
    public static Task<MessageProbe> StartAsync(string rabbitMqUri) =>
        MessageProbe.StartAsync(rabbitMqUri, nameof(ArtifactEventReceived), nameof(ArtifactEventsReceived));

    /// <summary>The events a delivery carries: itself, or a batch's items.</summary>
    public static IEnumerable<PublishedEvent> Of(MessageProbe.Delivery d)
    {
        if (d.Is(nameof(ArtifactEventsReceived)))
            return d.As<ArtifactEventsReceived>().Events.Select(i => new PublishedEvent(i.Event, null, i.Traceparent));
        if (d.Is(nameof(ArtifactEventReceived)))
            return [new PublishedEvent(d.As<ArtifactEventReceived>(), d.MessageId,
                (d.Headers.GetValueOrDefault("traceparent") ?? d.Headers.GetValueOrDefault("MT-Activity-Id"))?.ToString())];
        return [];
    }

    public static IReadOnlyList<PublishedEvent> Events(this MessageProbe probe) => [.. probe.Received.SelectMany(Of)];

    public static Task<IReadOnlyList<PublishedEvent>> WaitForEventsAsync(this MessageProbe probe, Func<ArtifactEventReceived, bool> match, int count = 1,
        TimeSpan? timeout = null) =>
        probe.WaitForAsync(Of, e => match(e.Event), count, timeout);
}
