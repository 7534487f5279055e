using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Npgsql;
using NpgsqlTypes;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace Automations.Benchmarks;

/// <summary>
/// The floor (--floor, --floor-only): the project's job for one event done with raw clients only (Kestrel, Npgsql,
/// RabbitMQ.Client, HttpClient; no MassTransit, no project code), in this process, against the same broker and
/// database, measured by the same load, receiver and percentiles as the project. Per event: intake over HTTP stores it
/// (a committed row in floor.events) and publishes it persistent with a publisher confirm to a durable queue before
/// answering 202; a consumer (one channel, the project's prefetch of 32, 32 handlers at once) writes a delivery row,
/// renders the payload, POSTs it signed (X-Wandb-Signature and Standard Webhooks, as the sender does) to the receiver,
/// records the outcome on the row and acks. A redelivered message finds its row: a succeeded one is acked, a pending
/// one is sent again under the same webhook-id. No batching the project could not also do.
/// </summary>
public sealed class Floor : IAsyncDisposable
{
    private const string Queue = "floor.events";
    private const string Key = "floor-intake-key";
    private const ushort Prefetch = 32;
    private const string Schema = """
        create schema if not exists floor;
        create table if not exists floor.events (
            entity text not null, event_id text not null, body jsonb not null,
            received_at timestamptz not null default now(), primary key (entity, event_id));
        create table if not exists floor.deliveries (
            id uuid primary key, entity text not null, event_id text not null,
            status text not null default 'pending', status_code int, attempts int not null default 1,
            created_at timestamptz not null default now(), completed_at timestamptz, unique (entity, event_id));
        """;

    private readonly NpgsqlDataSource _db;
    private readonly HttpClient _http;
    private readonly Uri _hook;
    private readonly byte[] _wandbKey;
    private readonly byte[] _standardKey;
    private readonly byte[] _bearer = Encoding.ASCII.GetBytes("Bearer " + Key);
    private WebApplication? _intake;
    private IConnection? _amqp;
    private IChannel? _publish;
    private IChannel? _consume;
    public string Entity { get; } = "floor" + Guid.NewGuid().ToString("N")[..8];
    public Uri IntakeAddress { get; private set; } = null!;
    public long Errors;
    public ConcurrentQueue<string> ErrorSamples { get; } = new();

    private Floor(Options o, Uri receiver, string secret)
    {
        var db = new NpgsqlDataSourceBuilder(o.Postgres);
        // What ServiceDefaults gives the services: the few hot statements prepared once per connection, no session reset.
        db.ConnectionStringBuilder.MaxAutoPrepare = 128;
        db.ConnectionStringBuilder.NoResetOnClose = true;
        _db = db.Build();
        _http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Prefetch, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
        {
            Timeout = TimeSpan.FromSeconds(5),
        };
        _hook = new Uri(receiver, "/hook/a");
        _wandbKey = Encoding.UTF8.GetBytes(secret);
        _standardKey = secret.StartsWith("whsec_", StringComparison.Ordinal) ? Convert.FromBase64String(secret[6..]) : Encoding.UTF8.GetBytes(secret);
    }

    public static async Task<Floor> StartAsync(Options o, Uri receiver, string secret)
    {
        var floor = new Floor(o, receiver, secret);
        await using (var c = await floor._db.OpenConnectionAsync())
        await using (var cmd = new NpgsqlCommand(Schema, c))
            await cmd.ExecuteNonQueryAsync();

        floor._amqp = await new ConnectionFactory { Uri = new Uri(o.RabbitMq), ClientProvidedName = "floor" }.CreateConnectionAsync();
        // Publishes from all intake requests share one channel: the client tracks each confirm, many in flight at once.
        floor._publish = await floor._amqp.CreateChannelAsync(new CreateChannelOptions(publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: true));
        await floor._publish.QueueDeclareAsync(Queue, durable: true, exclusive: false, autoDelete: false);
        floor._consume = await floor._amqp.CreateChannelAsync(new CreateChannelOptions(false, false, consumerDispatchConcurrency: Prefetch));
        await floor._consume.BasicQosAsync(0, Prefetch, global: false);
        var consumer = new AsyncEventingBasicConsumer(floor._consume);
        consumer.ReceivedAsync += floor.ConsumeAsync;
        await floor._consume.BasicConsumeAsync(Queue, autoAck: false, consumer);

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        floor._intake = builder.Build();
        floor._intake.MapPost("/v1/events", (Func<HttpContext, Task<IResult>>)floor.IntakeAsync); // a route handler: its result is written
        await floor._intake.StartAsync();
        floor.IntakeAddress = new Uri(floor._intake.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        return floor;
    }

    /// <summary>Intake: the key checked, the event validated, stored, published with a confirm, then 202.</summary>
    private async Task<IResult> IntakeAsync(HttpContext http)
    {
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(http.Request.Headers.Authorization.ToString()), _bearer))
            return Results.Unauthorized();
        using var ms = new MemoryStream();
        await http.Request.Body.CopyToAsync(ms);
        var body = ms.ToArray();
        string eventId, entity;
        try
        {
            using var doc = JsonDocument.Parse(body);
            var e = doc.RootElement;
            eventId = e.GetProperty("eventId").GetString() ?? throw new InvalidOperationException("eventId");
            entity = e.GetProperty("entity").GetString() ?? throw new InvalidOperationException("entity");
            _ = e.GetProperty("eventType").GetString() ?? throw new InvalidOperationException("eventType");
            _ = e.GetProperty("collection").GetString() ?? throw new InvalidOperationException("collection");
            _ = e.GetProperty("occurredAt").GetDateTimeOffset();
        }
        catch (Exception ex) when (ex is JsonException or KeyNotFoundException or InvalidOperationException or FormatException)
        {
            return Results.BadRequest();
        }
        if (entity != Entity) return Results.StatusCode(403);
        await using (var cmd = _db.CreateCommand("insert into floor.events (entity, event_id, body) values ($1, $2, $3) on conflict do nothing"))
        {
            cmd.Parameters.Add(new NpgsqlParameter { Value = entity });
            cmd.Parameters.Add(new NpgsqlParameter { Value = eventId });
            cmd.Parameters.Add(new NpgsqlParameter { Value = Encoding.UTF8.GetString(body), NpgsqlDbType = NpgsqlDbType.Jsonb });
            await cmd.ExecuteNonQueryAsync();
        }
        // Published again for a repeated event: the consumer's delivery row makes the second copy a no-op.
        await _publish!.BasicPublishAsync("", Queue, mandatory: true, new BasicProperties { Persistent = true, MessageId = eventId }, body);
        return Results.StatusCode(202);
    }

    /// <summary>One event: its delivery row, the signed POST, the outcome on the row, then the ack.</summary>
    private async Task ConsumeAsync(object sender, BasicDeliverEventArgs ea)
    {
        try
        {
            var (entity, eventId, payload) = Render(ea.Body.Span);
            Guid id;
            string status;
            await using (var cmd = _db.CreateCommand(
                "insert into floor.deliveries (id, entity, event_id) values ($1, $2, $3) " +
                "on conflict (entity, event_id) do update set attempts = floor.deliveries.attempts + 1 returning id, status"))
            {
                cmd.Parameters.Add(new NpgsqlParameter { Value = Guid.CreateVersion7() });
                cmd.Parameters.Add(new NpgsqlParameter { Value = entity });
                cmd.Parameters.Add(new NpgsqlParameter { Value = eventId });
                await using var r = await cmd.ExecuteReaderAsync();
                await r.ReadAsync();
                id = r.GetGuid(0);
                status = r.GetString(1);
            }
            if (status != "succeeded")
            {
                var code = await SendAsync(id, payload);
                await using var cmd = _db.CreateCommand("update floor.deliveries set status = $2, status_code = $3, completed_at = now() where id = $1");
                cmd.Parameters.Add(new NpgsqlParameter { Value = id });
                cmd.Parameters.Add(new NpgsqlParameter { Value = code is >= 200 and < 300 ? "succeeded" : "failed" });
                cmd.Parameters.Add(new NpgsqlParameter { Value = code is { } c ? c : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
                await cmd.ExecuteNonQueryAsync();
                if (code is not (>= 200 and < 300))
                {
                    // The benchmark's receiver does not fail in this mode; a failure is retried by the broker.
                    Note($"webhook answered {code?.ToString(CultureInfo.InvariantCulture) ?? "nothing"}");
                    await _consume!.BasicNackAsync(ea.DeliveryTag, multiple: false, requeue: true);
                    return;
                }
            }
            await _consume!.BasicAckAsync(ea.DeliveryTag, multiple: false);
        }
        catch (Exception ex)
        {
            Note(ex.GetType().Name + ": " + ex.Message);
            await _consume!.BasicNackAsync(ea.DeliveryTag, multiple: false, requeue: true);
        }
    }

    /// <summary>The benchmark automation's payload, rendered from the event as the project's template does.</summary>
    private static (string Entity, string EventId, byte[] Payload) Render(ReadOnlySpan<byte> body)
    {
        var reader = new Utf8JsonReader(body);
        using var doc = JsonDocument.ParseValue(ref reader);
        var e = doc.RootElement;
        string S(JsonElement x, string name) => x.GetProperty(name).GetString() ?? "";
        var entity = S(e, "entity");
        var metadata = e.GetProperty("metadata");
        var payload = JsonSerializer.SerializeToUtf8Bytes(new
        {
            bench_id = S(metadata, "bench_id"),
            sent_at = S(metadata, "sent_at"),
            version = $"{entity}/{S(e, "project")}/{S(e, "collection")}:v{e.GetProperty("versionIndex").GetInt32()}",
            author = S(e, "author"),
        });
        return (entity, S(e, "eventId"), payload);
    }

    /// <summary>The signed POST (headers as the project's sender sends them); the status code, or null for no answer.</summary>
    private async Task<int?> SendAsync(Guid id, byte[] payload)
    {
        var webhookId = id.ToString();
        var timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var prefix = Encoding.UTF8.GetBytes($"{webhookId}.{timestamp}.");
        var signed = new byte[prefix.Length + payload.Length];
        prefix.CopyTo(signed, 0);
        payload.CopyTo(signed, prefix.Length);
        using var message = new HttpRequestMessage(HttpMethod.Post, _hook) { Content = new ByteArrayContent(payload) };
        message.Content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json");
        message.Headers.TryAddWithoutValidation("User-Agent", "Automations-Floor/1");
        message.Headers.TryAddWithoutValidation("webhook-id", webhookId);
        message.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp);
        message.Headers.TryAddWithoutValidation("X-Wandb-Signature", Convert.ToBase64String(HMACSHA256.HashData(_wandbKey, payload)));
        message.Headers.TryAddWithoutValidation("webhook-signature", "v1," + Convert.ToBase64String(HMACSHA256.HashData(_standardKey, signed)));
        try
        {
            using var response = await _http.SendAsync(message, HttpCompletionOption.ResponseHeadersRead);
            return (int)response.StatusCode;
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            Note(ex.GetType().Name + ": " + ex.Message);
            return null;
        }
    }

    private void Note(string error)
    {
        if (Interlocked.Increment(ref Errors) <= 5) ErrorSamples.Enqueue(error);
    }

    /// <summary>Deliveries the floor recorded as succeeded for this run's entity.</summary>
    public async Task<long> CountRecordedAsync()
    {
        await using var cmd = _db.CreateCommand("select count(*) from floor.deliveries where entity = $1 and status = 'succeeded'");
        cmd.Parameters.Add(new NpgsqlParameter { Value = Entity });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        if (_intake is not null)
        {
            await _intake.StopAsync();
            await _intake.DisposeAsync();
        }
        if (_consume is not null) await _consume.DisposeAsync();
        if (_publish is not null) await _publish.DisposeAsync();
        if (_amqp is not null) await _amqp.DisposeAsync();
        _http.Dispose();
        await _db.DisposeAsync();
    }

    /// <summary>
    /// The floor run: warm-up as the benchmark's, --duration at --rate (open loop) or --rate max (closed loop), the drain,
    /// the exactly-once check at the receiver; prints a table and FLOOR_RESULT, returns the result.
    /// </summary>
    public static async Task<Dictionary<string, object?>> RunAsync(Options o, string secret, JsonSerializerOptions json)
    {
        await using var receiver = await Receiver.StartAsync(secret);
        receiver.Delay = o.ReceiverDelay;
        await using var floor = await StartAsync(o, receiver.BaseAddress, secret);
        // The load is the benchmark's own, pointed at the floor's intake (always over HTTP).
        var fo = o with { Ingestion = floor.IntakeAddress.ToString(), Via = "http" };
        var team = new Setup.Team(floor.Entity, Key, Api: null!); // the load does not use the Api
        await using var load = new Load(fo, team);
        Console.WriteLine($"floor: raw clients, intake {floor.IntakeAddress}, queue {Queue}, entity {floor.Entity}; rate {(o.Rate > 0 ? o.Rate.ToString(CultureInfo.InvariantCulture) + "/s open loop" : "max, " + o.Concurrency + " concurrent")}");
        await Program.WarmUpAsync(fo, load, receiver, endpoints: 1);

        var cpuFrom = CpuMeter.Take(new Dictionary<string, int>(), o.Postgres);
        var measureStart = DateTime.UtcNow;
        await load.RunAsync("m", o.Duration);
        await load.FlushAsync();
        var sendEnd = DateTime.UtcNow;
        var expected = load.Accepted.Keys.ToList();
        var drainUntil = DateTime.UtcNow + o.Drain;
        while (DateTime.UtcNow < drainUntil && expected.Any(id => !receiver.CountByBenchId.ContainsKey(id + "/a")))
            await Task.Delay(500);
        while (DateTime.UtcNow < drainUntil && await floor.CountRecordedAsync() < receiver.CountByBenchId.Count)
            await Task.Delay(500);
        var cpuTo = CpuMeter.Take(new Dictionary<string, int>(), o.Postgres);

        var missing = expected.Count(id => !receiver.CountByBenchId.ContainsKey(id + "/a"));
        var doubled = receiver.CountByBenchId.Values.Sum(n => Math.Max(0, n - 1));
        var (throughput, lat) = Program.Measured(receiver, measureStart, sendEnd, 1);
        var inWindow = receiver.All.Count(r => r.ReceivedAt >= cpuFrom.At && r.ReceivedAt <= cpuTo.At);
        var cpu = CpuMeter.MsPerEvent(cpuFrom, cpuTo, inWindow);
        cpu["floor"] = cpu[CpuMeter.Self];
        cpu.Remove(CpuMeter.Self);
        var recorded = await floor.CountRecordedAsync();
        var delivered = receiver.CountByBenchId.Count;
        var invalid = Interlocked.Read(ref receiver.InvalidSignatures);
        var failures = new List<string>();
        if (missing > 0) failures.Add($"{missing} accepted event(s) never arrived");
        if (doubled > 0) failures.Add($"{doubled} event(s) arrived under more than one webhook-id");
        if (invalid > 0) failures.Add($"{invalid} request(s) with an invalid signature or body");
        if (recorded != delivered) failures.Add($"the floor recorded {recorded} successful deliveries, {delivered} arrived");
        var result = new Dictionary<string, object?>
        {
            ["rate"] = o.Rate > 0 ? o.Rate : "max",
            ["accepted"] = expected.Count,
            ["refused"] = load.Refused.Count,
            ["delivered"] = delivered,
            ["recorded"] = recorded,
            ["events_per_s"] = Math.Round(throughput, 1),
            ["latency_ms"] = Program.LatencySummary(lat),
            ["lost"] = missing,
            ["doubled"] = doubled,
            ["resent_webhook_ids"] = Interlocked.Read(ref receiver.DuplicateDeliveries),
            ["invalid_signatures"] = invalid,
            ["floor_errors"] = Interlocked.Read(ref floor.Errors),
            ["cpu_window_s"] = Math.Round((cpuTo.At - cpuFrom.At).TotalSeconds, 1),
            ["cpu_ms_per_event"] = cpu,
            ["wal_bytes_per_event"] = CpuMeter.WalBytesPerEvent(cpuFrom, cpuTo, inWindow),
            ["result"] = failures.Count == 0 ? "pass" : "FAIL",
            ["failures"] = failures,
        };
        CpuMeter.PrintTable("floor", cpuFrom, cpuTo, cpu, inWindow);
        foreach (var e in load.ErrorSamples.Concat(floor.ErrorSamples)) Console.WriteLine($"  floor error sample: {e}");
        Console.WriteLine($"FLOOR_RESULT {JsonSerializer.Serialize(result, json)}");
        return result;
    }
}
