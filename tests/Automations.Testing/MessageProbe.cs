using System.Collections.Concurrent;
using System.Text.Json;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Automations.Testing;

/// <summary>
/// Watches what is published to a MassTransit message exchange (e.g. "Automations.Contracts:SendWebhook") with a plain
/// RabbitMQ client and an exclusive queue: it sees exactly what any consumer would, envelope and all.
/// </summary>
public sealed class MessageProbe : IAsyncDisposable
{
    private readonly IConnection _connection;
    private readonly IChannel _channel;
    private readonly string _queue;
    private readonly ConcurrentQueue<Delivery> _received = new();
    private readonly SemaphoreSlim _signal = new(0);
    private readonly ConcurrentDictionary<string, TaskCompletionSource> _markers = new();

    public sealed record Delivery(JsonElement Envelope, IReadOnlyDictionary<string, object?> Headers)
    {
        public JsonElement Message => Envelope.GetProperty("message");
        public Guid? MessageId => Envelope.TryGetProperty("messageId", out var id) && id.ValueKind == JsonValueKind.String ? id.GetGuid() : null;
        public T As<T>() => Message.Deserialize<T>(Automations.Persistence.Json.Options)!;

        /// <summary>Whether the envelope says it is a <paramref name="messageType"/> (a name in Automations.Contracts).</summary>
        public bool Is(string messageType) =>
            Envelope.TryGetProperty("messageType", out var types) && types.ValueKind == JsonValueKind.Array
            && types.EnumerateArray().Any(t => t.GetString() == $"urn:message:Automations.Contracts:{messageType}");
    }

    private MessageProbe(IConnection connection, IChannel channel, string queue)
    {
        _connection = connection;
        _channel = channel;
        _queue = queue;
    }

    public IReadOnlyCollection<Delivery> Received => _received.ToArray();

    /// <summary>Watches the exchanges of <paramref name="messageTypes"/> (names in Automations.Contracts, or whole exchange names) through one queue.</summary>
    public static async Task<MessageProbe> StartAsync(string rabbitMqUri, params string[] messageTypes)
    {
        var factory = new ConnectionFactory { Uri = new Uri(rabbitMqUri), ClientProvidedName = "test-probe" };
        var connection = await factory.CreateConnectionAsync();
        var channel = await connection.CreateChannelAsync();
        var queue = await channel.QueueDeclareAsync("", durable: false, exclusive: true, autoDelete: true);
        foreach (var messageType in messageTypes)
        {
            var exchange = messageType.Contains(':', StringComparison.Ordinal) ? messageType : $"Automations.Contracts:{messageType}";
            await channel.ExchangeDeclareAsync(exchange, ExchangeType.Fanout, durable: true, autoDelete: false);
            await channel.QueueBindAsync(queue.QueueName, exchange, "");
        }
        var probe = new MessageProbe(connection, channel, queue.QueueName);
        var consumer = new AsyncEventingBasicConsumer(channel);
        consumer.ReceivedAsync += (_, ea) =>
        {
            if (ea.BasicProperties.Type == MarkerType && ea.BasicProperties.MessageId is { } marker)
            {
                if (probe._markers.TryRemove(marker, out var reached)) reached.TrySetResult();
                return Task.CompletedTask;
            }
            using var doc = JsonDocument.Parse(ea.Body);
            var headers = ea.BasicProperties.Headers?.ToDictionary(h => h.Key, h => h.Value is byte[] b ? System.Text.Encoding.UTF8.GetString(b) : h.Value)
                ?? new Dictionary<string, object?>();
            probe._received.Enqueue(new Delivery(doc.RootElement.Clone(), headers));
            probe._signal.Release();
            return Task.CompletedTask;
        };
        await channel.BasicConsumeAsync(queue.QueueName, autoAck: true, consumer);
        return probe;
    }

    private const string MarkerType = "test-probe-marker";

    /// <summary>
    /// Returns once every message already routed to this probe's queue has been received: a marker sent to the queue
    /// now arrives after them (one queue, one consumer, in order). A test that must show something was NOT published
    /// waits for what could have published it (an outbox drained, a consumer done), then for this, then asserts.
    /// </summary>
    public async Task CatchUpAsync(TimeSpan? timeout = null)
    {
        var marker = Guid.NewGuid().ToString("N");
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _markers[marker] = reached;
        await using (var channel = await _connection.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true)))
            await channel.BasicPublishAsync("", _queue, mandatory: true, new BasicProperties { Type = MarkerType, MessageId = marker }, ReadOnlyMemory<byte>.Empty);
        await reached.Task.WaitAsync(timeout ?? TimeSpan.FromSeconds(30));
    }

    /// <summary>Waits until <paramref name="count"/> deliveries match, or throws after <paramref name="timeout"/>.</summary>
    public Task<IReadOnlyList<Delivery>> WaitForAsync(Func<Delivery, bool> match, int count = 1, TimeSpan? timeout = null) =>
        WaitForAsync<Delivery>(d => [d], match, count, timeout);

    /// <summary>Waits until <paramref name="count"/> of what the deliveries carry (<paramref name="select"/>) match, or throws after <paramref name="timeout"/>.</summary>
    public async Task<IReadOnlyList<T>> WaitForAsync<T>(Func<Delivery, IEnumerable<T>> select, Func<T, bool> match, int count = 1, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            var hits = _received.SelectMany(select).Where(match).ToList();
            if (hits.Count >= count) return hits;
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
                throw new TimeoutException($"Expected {count} matching message(s), saw {hits.Count} (of {_received.Count} received)");
            await _signal.WaitAsync(left < TimeSpan.FromMilliseconds(200) ? left : TimeSpan.FromMilliseconds(200));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _channel.DisposeAsync();
        await _connection.DisposeAsync();
    }
}
