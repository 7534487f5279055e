using System.Collections.Concurrent;
using System.Diagnostics;
using Automations.Contracts;
using Automations.Core.Secrets;
using Automations.Persistence.Control;
using Automations.Persistence.Outbox;
using Automations.Testing;
using Dapper;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Automations.WebhookSender.Benchmarks;

/// <summary>
/// Deliveries/s and delivery latency (SendWebhook committed to the outbox -> signed request received) against a local
/// receiver, with the real sender, broker and database. Usage: dotnet run -c Release -- [burst=5000] [rate=200] [seconds=15]
/// </summary>
public static class Program
{
    private static readonly ConcurrentDictionary<Guid, long> Sent = new();
    private static readonly ConcurrentDictionary<Guid, long> Received = new();

    public static async Task Main(string[] args)
    {
        var burst = args.Length > 0 ? int.Parse(args[0], System.Globalization.CultureInfo.InvariantCulture) : 5000;
        var rate = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 200;
        var seconds = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 15;

        var env = new TestEnvironment();
        await env.InitializeAsync();
        try
        {
            var receiverUrl = await StartReceiverAsync();
            var acme = await Bootstrap.CreateEntityWithAdminAsync(env.DataSource, "acme", "admin");
            var cipher = SecretCipher.FromBase64(new Dictionary<string, string> { [TestEnvironment.TestMasterKeyId] = TestEnvironment.TestMasterKey }, TestEnvironment.TestMasterKeyId);
            var webhooks = new List<Guid>();
            await using (var c = await env.DataSource.OpenConnectionAsync())
            {
                for (var i = 0; i < 4; i++)
                {
                    var secretId = Guid.NewGuid();
                    var e = cipher.Encrypt(acme.EntityId, $"SIGNING_{i}", "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
                    await c.ExecuteAsync("insert into control.secrets (id, entity_id, name, key_id, nonce, ciphertext, tag) values (@secretId, @EntityId, @name, @KeyId, @Nonce, @Ciphertext, @Tag)",
                        new { secretId, acme.EntityId, name = $"SIGNING_{i}", e.KeyId, e.Nonce, e.Ciphertext, e.Tag });
                    var id = Guid.NewGuid();
                    await c.ExecuteAsync("insert into control.webhooks (id, entity_id, name, url, secret_id) values (@id, @EntityId, @name, @url, @secretId)",
                        new { id, acme.EntityId, name = $"bench-{i}", url = receiverUrl + "hook/" + i, secretId });
                    webhooks.Add(id);
                }
            }

            var config = env.ServiceConfiguration();
            config["Logging:LogLevel:Default"] = "Warning";
            config["Webhooks:MaxConcurrencyPerWebhook"] = "64";
            await using var sender = await ServiceHost.StartAsync(WebhookSender.Program.Build, config);

            Console.WriteLine("warm-up: 2000 deliveries");
            await BurstAsync(env, webhooks, 2000);
            Sent.Clear();
            Received.Clear();

            var clock = Stopwatch.StartNew();
            await BurstAsync(env, webhooks, burst);
            var elapsed = clock.Elapsed;
            Report($"burst of {burst}", burst / elapsed.TotalSeconds);
            Sent.Clear();
            Received.Clear();

            var total = rate * seconds;
            var tick = Stopwatch.StartNew();
            for (var i = 0; i < total; i++)
            {
                var due = TimeSpan.FromSeconds((double)i / rate);
                var wait = due - tick.Elapsed;
                if (wait > TimeSpan.Zero) await Task.Delay(wait);
                await PublishAsync(env, [Command(webhooks[i % webhooks.Count])]);
            }
            await WaitAllAsync(total);
            Report($"open loop at {rate}/s for {seconds} s", total / tick.Elapsed.TotalSeconds);
        }
        finally
        {
            await env.DisposeAsync();
        }
    }

    private static SendWebhook Command(Guid webhook)
    {
        var id = Guid.NewGuid();
        return new(id, Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), "acme", "mnist", webhook,
            $$"""{"command":"{{id}}","event_type":"ADD_ARTIFACT_ALIAS","artifact_version_string":"acme/mnist/eval-set:production"}""", DateTimeOffset.UtcNow);
    }

    private static async Task BurstAsync(TestEnvironment env, List<Guid> webhooks, int count)
    {
        for (var i = 0; i < count; i += 100)
            await PublishAsync(env, Enumerable.Range(i, Math.Min(100, count - i)).Select(n => Command(webhooks[n % webhooks.Count])).ToList());
        await WaitAllAsync(count);
    }

    private static async Task PublishAsync(TestEnvironment env, IReadOnlyList<SendWebhook> commands)
    {
        await using var c = await env.DataSource.OpenConnectionAsync();
        await using var tx = await c.BeginTransactionAsync();
        foreach (var cmd in commands) await OutboxWriter.AddAsync(c, tx, "delivery", cmd);
        var now = Stopwatch.GetTimestamp();
        foreach (var cmd in commands) Sent[cmd.CommandId] = now;
        await tx.CommitAsync();
    }

    private static async Task WaitAllAsync(int count)
    {
        var deadline = DateTime.UtcNow.AddMinutes(5);
        while (Received.Count < count && DateTime.UtcNow < deadline) await Task.Delay(20);
        if (Received.Count < count) throw new TimeoutException($"only {Received.Count} of {count} deliveries arrived");
    }

    private static void Report(string name, double perSecond)
    {
        var latencies = Received.Where(r => Sent.ContainsKey(r.Key))
            .Select(r => Stopwatch.GetElapsedTime(Sent[r.Key], r.Value).TotalMilliseconds).Order().ToArray();
        double P(double q) => latencies[Math.Min(latencies.Length - 1, (int)(q * latencies.Length))];
        Console.WriteLine($"{name}: {perSecond:0} deliveries/s, latency p50 {P(0.5):0.0} ms, p99 {P(0.99):0.0} ms, max {latencies[^1]:0.0} ms ({latencies.Length} deliveries)");
    }

    private static async Task<string> StartReceiverAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.Run(async ctx =>
        {
            using var doc = await System.Text.Json.JsonDocument.ParseAsync(ctx.Request.Body);
            Received[doc.RootElement.GetProperty("command").GetGuid()] = Stopwatch.GetTimestamp();
            ctx.Response.StatusCode = 204;
        });
        await app.StartAsync();
        // Reached by the machine's name: the URL rule refuses IP literals even when they are allow-listed.
        return LocalName.Url(new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()));
    }

}
