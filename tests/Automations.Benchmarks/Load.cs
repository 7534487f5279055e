using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using RabbitMQ.Client;

namespace Automations.Benchmarks;

/// <summary>Sends artifact events over HTTP or AMQP, open loop at a fixed rate or as fast as possible.</summary>
public sealed class Load : IAsyncDisposable
{
    private readonly Options _o;
    private readonly Setup.Team _team;
    private readonly HttpClient _http;
    private IConnection? _amqp;
    private IChannel? _channel;
    private readonly SemaphoreSlim _channelLock = new(1, 1);
    private readonly SoakLedger? _ledger;
    /// <summary>Sends not yet answered: a count, not the tasks, so that hours of open-loop load keep nothing per event.</summary>
    private long _pending;
    /// <summary>Events intake accepted, by when they were sent (empty with a <see cref="SoakLedger"/>, which keeps them compactly).</summary>
    public ConcurrentDictionary<string, DateTime> Accepted { get; } = new();
    /// <summary>Events intake did not accept (an error answer, or no answer), by when the refusal came back.</summary>
    public ConcurrentDictionary<string, DateTime> Refused { get; } = new();
    public long Errors;
    public ConcurrentQueue<string> ErrorSamples { get; } = new();

    public Load(Options o, Setup.Team team, SoakLedger? ledger = null)
    {
        _o = o;
        _team = team;
        _ledger = ledger;
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Math.Max(8, o.Concurrency), PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            BaseAddress = new Uri(o.Ingestion),
            Timeout = TimeSpan.FromSeconds(60),
        };
        _http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", team.Key);
    }

    public static byte[] EventBody(string entity, string benchId, DateTime sentAt, string? eventType = null) =>
        JsonSerializer.SerializeToUtf8Bytes(new
        {
            eventId = benchId,
            eventType = eventType ?? "CREATE_ARTIFACT",
            entity,
            project = "bench",
            collection = "bench-set",
            versionId = "QmVuY2g6" + benchId,
            versionIndex = 1,
            author = "bench",
            occurredAt = sentAt.ToString("O", CultureInfo.InvariantCulture),
            metadata = new { bench_id = benchId, sent_at = sentAt.Ticks.ToString(CultureInfo.InvariantCulture) },
        });

    public async Task SendOneAsync(string benchId)
    {
        var sentAt = DateTime.UtcNow;
        var body = EventBody(_team.Entity, benchId, sentAt);
        try
        {
            if (_o.Via == "amqp")
            {
                await PublishRawAsync("CREATE_ARTIFACT", body);
                Accept(benchId, sentAt);
                return;
            }
            using var content = new ByteArrayContent(body);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
            using var response = await _http.PostAsync("/v1/events", content);
            if (response.StatusCode == HttpStatusCode.Accepted) Accept(benchId, sentAt);
            else Refuse(benchId, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        catch (Exception ex)
        {
            Refuse(benchId, ex.GetType().Name + ": " + ex.Message);
        }
    }

    public async Task<HttpStatusCode> SendRawHttpAsync(byte[] body)
    {
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        using var response = await _http.PostAsync("/v1/events", content);
        return response.StatusCode;
    }

    public async Task PublishRawAsync(string routingKey, byte[] body)
    {
        await _channelLock.WaitAsync();
        try
        {
            if (_channel is null || !_channel.IsOpen)
            {
                _amqp ??= await new ConnectionFactory { Uri = new Uri(_o.RabbitMq), AutomaticRecoveryEnabled = true, ClientProvidedName = "benchmark" }.CreateConnectionAsync();
                _channel = await _amqp.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
            }
            await _channel.BasicPublishAsync("artifact-events", routingKey, mandatory: false, new BasicProperties { Persistent = true }, body);
        }
        finally
        {
            _channelLock.Release();
        }
    }

    private void Accept(string benchId, DateTime sentAt)
    {
        if (_ledger is not null) _ledger.Accept(benchId);
        else Accepted[benchId] = sentAt;
    }

    private void Refuse(string benchId, string message)
    {
        if (_ledger is not null) _ledger.Refuse();
        else Refused[benchId] = DateTime.UtcNow;
        if (Interlocked.Increment(ref Errors) <= 5) ErrorSamples.Enqueue(message);
    }

    /// <summary>Sends for <paramref name="duration"/> (or until <paramref name="stop"/> says so), ids from <paramref name="prefix"/>.</summary>
    public async Task<int> RunAsync(string prefix, TimeSpan duration, Func<bool>? stop = null, double? rate = null)
    {
        var sw = Stopwatch.StartNew();
        var sent = 0;
        var perSecond = rate ?? _o.Rate;
        if (perSecond > 0)
        {
            while (sw.Elapsed < duration && !(stop?.Invoke() ?? false))
            {
                var due = (int)(sw.Elapsed.TotalSeconds * perSecond);
                while (sent < due) _ = SendTrackedAsync($"{prefix}-{sent++}");
                // Sleep until the next event is due, not a fixed millisecond: a 1 ms loop wakes the benchmark several
                // times per event, CPU taken from the system it measures.
                var next = TimeSpan.FromSeconds((sent + 1) / perSecond) - sw.Elapsed;
                await Task.Delay(next > TimeSpan.FromMilliseconds(1) ? next : TimeSpan.FromMilliseconds(1));
            }
        }
        else
        {
            var counter = -1;
            var workers = Enumerable.Range(0, _o.Concurrency).Select(async _ =>
            {
                while (sw.Elapsed < duration && !(stop?.Invoke() ?? false))
                    await SendOneAsync($"{prefix}-{Interlocked.Increment(ref counter)}");
            });
            await Task.WhenAll(workers);
            sent = counter + 1;
        }
        return sent;
    }

    private async Task SendTrackedAsync(string benchId)
    {
        Interlocked.Increment(ref _pending);
        try { await SendOneAsync(benchId); }
        finally { Interlocked.Decrement(ref _pending); }
    }

    /// <summary>Waits until every open-loop send has its answer (<see cref="SendOneAsync"/> never throws).</summary>
    public async Task FlushAsync()
    {
        while (Interlocked.Read(ref _pending) > 0) await Task.Delay(20);
    }

    public async ValueTask DisposeAsync()
    {
        await FlushAsync();
        _http.Dispose();
        if (_channel is not null) await _channel.DisposeAsync();
        if (_amqp is not null) await _amqp.DisposeAsync();
    }
}
