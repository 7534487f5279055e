using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Automations.Benchmarks;

/// <summary>
/// The webhook endpoint the benchmark points its automation at: verifies both signatures independently of the
/// product's code, records what arrived by webhook-id and by benchmark event id, and can misbehave on purpose.
/// </summary>
public sealed class Receiver : IAsyncDisposable
{
    public sealed record Receipt(string WebhookId, string BenchId, string Path, double LatencyMs, DateTime ReceivedAt, bool SignaturesValid);

    private readonly WebApplication _app;
    private readonly string _secret;
    public ConcurrentDictionary<string, Receipt> ByWebhookId { get; } = new();
    public ConcurrentDictionary<string, int> CountByBenchId { get; } = new();
    public ConcurrentQueue<Receipt> All { get; } = new();
    public long Requests;
    public long InvalidSignatures;
    /// <summary>Requests that repeated a webhook-id already received (no second effect at a receiver that dedupes by it).</summary>
    public long DuplicateDeliveries;
    /// <summary>Each repeated webhook-id (with its endpoint), when its first copy came and when this one did.</summary>
    public ConcurrentQueue<(string WebhookId, string Path, DateTime FirstReceivedAt, DateTime ReceivedAt)> Repeats { get; } = new();
    /// <summary>0..1: share of requests answered 500 (the errors drill).</summary>
    public double FailureRate { get; set; }
    /// <summary>Requests answered 500 on purpose (<see cref="FailureRate"/>): the errors drill's evidence that its fault happened.</summary>
    public long Answered500;
    /// <summary>Requests to this path hang for this long (the slow drill).</summary>
    public (string Path, TimeSpan Delay)? Hang { get; set; }
    /// <summary>Hanging requests the sender gave up on (it closed the request): the slow drill's evidence that its fault happened.</summary>
    public long HangsAbandoned;
    /// <summary>Every request is answered this late (--receiver-delay).</summary>
    public TimeSpan Delay { get; set; }
    public Uri BaseAddress { get; private set; } = null!;
    /// <summary>
    /// When set (the soak), arrivals are booked here, compactly, instead of in <see cref="All"/>, <see cref="ByWebhookId"/>
    /// and <see cref="CountByBenchId"/>, which keep a few hundred bytes per event for the benchmark's latency plot.
    /// </summary>
    public SoakLedger? Ledger { get; set; }

    private Receiver(WebApplication app, string secret)
    {
        _app = app;
        _secret = secret;
    }

    public static async Task<Receiver> StartAsync(string secret)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new Receiver(app, secret);
        app.MapPost("/hook/{name}", receiver.HandleAsync);
        await app.StartAsync();
        var listening = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        receiver.BaseAddress = new UriBuilder(listening) { Host = MachineName() }.Uri;
        return receiver;
    }

    /// <summary>
    /// The webhook URL names this machine: the Api refuses IP literals and localhost whatever the allow-list says, and the
    /// sender's allow-list (up.sh: 127.0.0.0/8) admits a name that resolves to loopback.
    /// </summary>
    private static string MachineName()
    {
        var name = System.Net.Dns.GetHostName();
        var addresses = System.Net.Dns.GetHostAddresses(name);
        if (!addresses.Any(System.Net.IPAddress.IsLoopback))
            throw new InvalidOperationException(
                $"The benchmark's receiver is reached by this machine's host name '{name}', which must resolve to a loopback address, " +
                $"but it resolves to [{string.Join(", ", addresses.Select(a => a.ToString()))}]. Map it in /etc/hosts ('127.0.0.1 {name}').");
        return name;
    }

    private async Task<IResult> HandleAsync(HttpContext http, string name)
    {
        var receivedAt = DateTime.UtcNow;
        Interlocked.Increment(ref Requests);
        using var ms = new MemoryStream();
        await http.Request.Body.CopyToAsync(ms);
        var body = ms.ToArray();
        if (Delay > TimeSpan.Zero)
        {
            try { await Task.Delay(Delay, http.RequestAborted); } catch (OperationCanceledException) { return Results.Empty; }
        }
        if (Hang is { } hang && hang.Path == name)
        {
            try { await Task.Delay(hang.Delay, http.RequestAborted); } catch (OperationCanceledException) { }
            // The sender gave up (timeout) and will retry with the same webhook-id: this request had no effect.
            if (http.RequestAborted.IsCancellationRequested)
            {
                Interlocked.Increment(ref HangsAbandoned);
                return Results.Empty;
            }
        }
        if (FailureRate > 0 && Random.Shared.NextDouble() < FailureRate)
        {
            Interlocked.Increment(ref Answered500);
            return Results.StatusCode(500);
        }

        var valid = VerifyWandb(http.Request.Headers["X-Wandb-Signature"], body) && VerifyStandard(http.Request.Headers, body);
        if (!valid) Interlocked.Increment(ref InvalidSignatures);
        string benchId = "", sentAt = "";
        try
        {
            using var doc = JsonDocument.Parse(body);
            benchId = doc.RootElement.GetProperty("bench_id").GetString() ?? "";
            sentAt = doc.RootElement.GetProperty("sent_at").GetString() ?? "";
        }
        catch (Exception) { Interlocked.Increment(ref InvalidSignatures); }
        var latency = long.TryParse(sentAt, out var sentTicks) ? (receivedAt - new DateTime(sentTicks, DateTimeKind.Utc)).TotalMilliseconds : double.NaN;
        var webhookId = http.Request.Headers["webhook-id"].ToString();
        if (Ledger is { } ledger)
        {
            ledger.Arrived(benchId, webhookId, latency);
            return Results.Ok();
        }
        var receipt = new Receipt(webhookId, benchId, name, latency, receivedAt, valid);
        if (ByWebhookId.TryAdd(webhookId + "/" + name, receipt))
        {
            All.Enqueue(receipt);
            CountByBenchId.AddOrUpdate(benchId + "/" + name, 1, (_, n) => n + 1);
        }
        else
        {
            // The same webhook-id again: the sender could not know the first copy arrived. A receiver that follows
            // Standard Webhooks drops it by its id; the drill checks it against the sender's attempt log (see Program).
            Interlocked.Increment(ref DuplicateDeliveries);
            if (ByWebhookId.TryGetValue(webhookId + "/" + name, out var first)) Repeats.Enqueue((webhookId, name, first.ReceivedAt, receivedAt));
        }
        return Results.Ok();
    }

    private bool VerifyWandb(string? header, byte[] body)
    {
        if (string.IsNullOrEmpty(header)) return false;
        var expected = Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(_secret), body));
        return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(header));
    }

    private bool VerifyStandard(IHeaderDictionary headers, byte[] body)
    {
        var id = headers["webhook-id"].ToString();
        var ts = headers["webhook-timestamp"].ToString();
        var sig = headers["webhook-signature"].ToString();
        if (id.Length == 0 || ts.Length == 0 || sig.Length == 0) return false;
        var key = _secret.StartsWith("whsec_", StringComparison.Ordinal) ? Convert.FromBase64String(_secret[6..]) : Encoding.UTF8.GetBytes(_secret);
        var signed = Encoding.UTF8.GetBytes($"{id}.{ts}.").Concat(body).ToArray();
        var expected = "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, signed));
        return sig.Split(' ').Any(s => s == expected);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
