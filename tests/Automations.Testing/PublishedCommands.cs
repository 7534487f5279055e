using Automations.Contracts;

namespace Automations.Testing;

/// <summary>
/// A <see cref="SendWebhook"/> as Rules published it: alone (<paramref name="MessageId"/> is the single message's) or as
/// an item of a <see cref="SendWebhooks"/> batch (<paramref name="MessageId"/> null, <paramref name="Traceparent"/> the
/// item's).
/// </summary>
public sealed record PublishedCommand(SendWebhook Command, Guid? MessageId, string? Traceparent)
{
    public bool InBatch => MessageId is null;
}

/// <summary>Watching Rules' commands in both forms: a <see cref="MessageProbe"/> on SendWebhook and SendWebhooks.</summary>
public static class PublishedCommands
{
    public static Task<MessageProbe> StartAsync(string rabbitMqUri) =>
        MessageProbe.StartAsync(rabbitMqUri, nameof(SendWebhook), nameof(SendWebhooks));

    /// <summary>The commands a delivery carries: itself, or a batch's items.</summary>
    public static IEnumerable<PublishedCommand> Of(MessageProbe.Delivery d)
    {
        if (d.Is(nameof(SendWebhooks))) return d.As<SendWebhooks>().Commands.Select(i => new PublishedCommand(i.Command, null, i.Traceparent));
        if (d.Is(nameof(SendWebhook)))
            return [new PublishedCommand(d.As<SendWebhook>(), d.MessageId,
                (d.Headers.GetValueOrDefault("traceparent") ?? d.Headers.GetValueOrDefault("MT-Activity-Id"))?.ToString())];
        return [];
    }

    public static IReadOnlyList<PublishedCommand> Commands(this MessageProbe probe) => [.. probe.Received.SelectMany(Of)];

    public static Task<IReadOnlyList<PublishedCommand>> WaitForCommandsAsync(this MessageProbe probe, Func<SendWebhook, bool> match, int count = 1,
        TimeSpan? timeout = null) =>
        probe.WaitForAsync(Of, c => match(c.Command), count, timeout);
}
