using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using Dapper;
using Npgsql;

namespace Automations.Benchmarks;

/// <summary>
/// End-to-end benchmark and fault drills against the system that deploy/local/up.sh runs.
///   dotnet tests/Automations.Benchmarks/bin/Release/net10.0/Automations.Benchmarks.dll --rate 200 --duration 30
///   ... --rate max                       as fast as it goes
///   ... --drill rabbitmq|kill|postgres|errors|slow|malformed [--short]
/// Prints a table and one JSON line (BENCH_RESULT / DRILL_RESULT), writes a latency-over-time PNG, and exits 1
/// when the exactly-once check fails (anything missing, doubled, or badly signed).
/// </summary>
public static class Program
{
    private const string Secret = "whsec_YmVuY2htYXJrLXNpZ25pbmcta2V5LTAxMjM0NTY3";
    private static readonly JsonSerializerOptions JsonOut = new() { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals };

    public static async Task<int> Main(string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }
        var o = Options.Parse(args);
        Directory.CreateDirectory(o.Out);
        var endpoints = o.Drill == "slow" ? new[] { "a", "b" } : ["a"];
        var team = await Setup.CreateTeamAsync(o);
        await using var receiver = await Receiver.StartAsync(Secret);
        await Setup.WireAsync(team, receiver.BaseAddress, Secret, endpoints);
        await Task.Delay(500); // the automations cache is dropped on AutomationsChanged; let it arrive
        var services = new Services(o.RunDir);
        await using var load = new Load(o, team);
        using var sampler = new Timer(_ => services.SampleOnce(), null, 0, 1000);

        Console.WriteLine($"team {team.Entity}; receiver {receiver.BaseAddress}; rate {(o.Rate > 0 ? o.Rate.ToString(CultureInfo.InvariantCulture) + "/s open loop" : "max, " + o.Concurrency + " concurrent")} via {o.Via}; drill {o.Drill ?? "none"}");

        // Warm up until delivered throughput is steady (three one-second windows within 10 % of each other, at the
        // offered rate) and nothing queues (median latency of the last second under 250 ms): a fresh .NET process
        // re-JITs its hot paths for tens of seconds under load, and a backlog built then would be measured as latency.
        var warmup = Stopwatch.StartNew();
        if (o.Rate > 0)
        {
            // First at half the rate for the minimum warm-up, then until that has all arrived: a cold system that
            // cannot yet keep up with the full rate would otherwise carry its backlog into the measurement.
            await load.RunAsync("w0", o.MinWarmup, rate: o.Rate / 2);
            var rampDrained = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (DateTime.UtcNow < rampDrained && receiver.CountByBenchId.Count < load.Accepted.Count * endpoints.Length)
                await Task.Delay(200);
            Console.WriteLine($"ramp: {o.MinWarmup.TotalSeconds:F0}s at {o.Rate / 2}/s, drained after {warmup.Elapsed.TotalSeconds:F0}s");
        }
        var steady = false;
        var warmTask = load.RunAsync("w", o.MaxWarmup, () => steady);
        var windows = new List<int>();
        var lastCount = receiver.All.Count;
        while (!warmTask.IsCompleted)
        {
            await Task.Delay(1000);
            var now = receiver.All.Count;
            windows.Add(now - lastCount);
            lastCount = now;
            var last3 = windows.TakeLast(3).ToList();
            steady = steady || warmup.Elapsed >= o.MinWarmup && last3.Count == 3 && last3.Min() > 0 && last3.Min() >= 0.9 * last3.Max()
                && (o.Rate <= 0 || (last3.Average() >= 0.9 * o.Rate * endpoints.Length && RecentMedianLatencyMs(receiver) < 250));
        }
        await warmTask;
        Console.WriteLine($"warm-up {warmup.Elapsed.TotalSeconds:F0}s, {(steady ? "steady" : "not steady, measuring anyway")}: {string.Join(" ", windows)} deliveries/s");
        services.ResetCpu();

        // Measure, with the drill's fault injected a few seconds in.
        var measureStart = DateTime.UtcNow;
        var measureTask = load.RunAsync("m", o.Duration);
        var drill = o.Drill is null ? Task.FromResult<DrillReport>(new("none", null, null, [])) : RunDrillAsync(o, services, receiver, load, team);
        await measureTask;
        await load.FlushAsync();
        var report = await drill;
        var sendEnd = DateTime.UtcNow;

        // Drain: wait for everything accepted to arrive (retries included), then check exactly-once.
        var expected = load.Accepted.Keys.ToList();
        var drainUntil = DateTime.UtcNow + (o.Drill is "errors" or "slow" ? TimeSpan.FromMinutes(3) : o.Drain);
        while (DateTime.UtcNow < drainUntil && expected.Any(id => endpoints.Any(e => !receiver.CountByBenchId.ContainsKey(id + "/" + e))))
            await Task.Delay(500);

        // ... and for the sender to record them (its outcome is written after the request, possibly after a retry).
        while (DateTime.UtcNow < drainUntil && await CountRecordedDeliveriesAsync(o, team.Entity) is { } rec && rec < expected.Count * endpoints.Length)
            await Task.Delay(500);

        var missing = expected.Sum(id => endpoints.Count(e => !receiver.CountByBenchId.ContainsKey(id + "/" + e)));
        // A doubled effect: one event delivered under more than one webhook-id (no receiver can tell them apart).
        var doubled = receiver.CountByBenchId.Values.Sum(n => Math.Max(0, n - 1));
        // A webhook-id received again is absorbed by a receiver that dedupes by it (Standard Webhooks), but the sender
        // sends one again only when it cannot know the first arrived: it died between the request and recording it.
        // So a repeat is allowed only when the WebhookSender was SIGKILLed and the first copy came just before that.
        var resent = (int)Interlocked.Read(ref receiver.DuplicateDeliveries);
        var resentUnexplained = report.Extra.GetValueOrDefault("sender_killed_at") is DateTime killedAt
            ? receiver.ResentFirstReceivedAt.Count(t => t < killedAt.AddSeconds(-20) || t > killedAt.AddSeconds(1))
            : resent;
        var measured = receiver.All.Where(r => r.BenchId.StartsWith("m-", StringComparison.Ordinal)).ToList();
        var lastMeasured = measured.Count > 0 ? measured.Max(r => r.ReceivedAt) : sendEnd;
        var throughput = measured.Count / Math.Max(0.001, (lastMeasured - measureStart).TotalSeconds) / endpoints.Length;
        var lat = measured.Select(r => r.LatencyMs).Where(double.IsFinite).Order().ToArray();
        double P(double q) => lat.Length == 0 ? double.NaN : lat[Math.Min(lat.Length - 1, (int)Math.Ceiling(q * lat.Length) - 1)];
        var recorded = await CountRecordedDeliveriesAsync(o, team.Entity);

        var result = new Dictionary<string, object?>
        {
            ["drill"] = o.Drill ?? "none",
            ["via"] = o.Via,
            ["rate"] = o.Rate > 0 ? o.Rate : "max",
            ["sent"] = expected.Count,
            ["send_errors"] = Interlocked.Read(ref load.Errors),
            ["delivered"] = receiver.CountByBenchId.Count,
            ["recorded_deliveries"] = recorded,
            ["events_per_s"] = Math.Round(throughput, 1),
            ["latency_ms"] = new { p50 = Math.Round(P(0.50), 1), p95 = Math.Round(P(0.95), 1), p99 = Math.Round(P(0.99), 1), max = Math.Round(lat.LastOrDefault(), 1) },
            ["lost"] = missing,
            ["duplicates"] = doubled,
            ["resent_webhook_ids"] = resent,
            ["resent_unexplained"] = resentUnexplained,
            ["invalid_signatures"] = Interlocked.Read(ref receiver.InvalidSignatures),
            ["rss_mb_peak"] = services.PeakRssMb.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 0)),
            ["cpu_percent_avg"] = services.Cpu.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value.DefaultIfEmpty().Average(), 0)),
        };
        if (report.FaultStart is { } fs && report.FaultEnd is { } fe)
        {
            var during = receiver.All.Where(r => r.Path == (o.Drill == "slow" ? "b" : r.Path) && r.ReceivedAt >= fs && r.ReceivedAt <= fe.AddSeconds(5)).Select(r => r.LatencyMs).Where(double.IsFinite).Order().ToArray();
            result["max_latency_during_fault_ms"] = during.Length > 0 ? Math.Round(during[^1], 1) : null;
            result["p99_latency_during_fault_ms"] = during.Length > 0 ? Math.Round(during[Math.Min(during.Length - 1, (int)Math.Ceiling(0.99 * during.Length) - 1)], 1) : null;
        }
        foreach (var (k, v) in report.Extra) result[k] = v;
        var pass = missing == 0 && doubled == 0 && resentUnexplained == 0 && Interlocked.Read(ref receiver.InvalidSignatures) == 0 && report.Extra.GetValueOrDefault("check") is null or "pass";
        result["result"] = pass ? "pass" : "FAIL";

        PrintTable(result, load);
        var tag = o.Drill is null ? "BENCH_RESULT" : "DRILL_RESULT";
        Console.WriteLine($"{tag} {JsonSerializer.Serialize(result, JsonOut)}");
        var png = Path.Combine(o.Out, $"latency-{o.Drill ?? "bench"}-{DateTime.UtcNow:yyyyMMddTHHmmss}.png");
        Plot(receiver, measureStart, png, report);
        Console.WriteLine($"latency plot: {png}");
        return pass ? 0 : 1;
    }

    public sealed record DrillReport(string Name, DateTime? FaultStart, DateTime? FaultEnd, Dictionary<string, object?> Extra);

    private static async Task<DrillReport> RunDrillAsync(Options o, Services services, Receiver receiver, Load load, Setup.Team team)
    {
        var faultFor = o.Short ? TimeSpan.FromSeconds(8) : TimeSpan.FromSeconds(o.Drill is "errors" ? 60 : 30);
        await Task.Delay(TimeSpan.FromSeconds(o.Short ? 2 : 5));
        var start = DateTime.UtcNow;
        var extra = new Dictionary<string, object?>();
        switch (o.Drill)
        {
            case "rabbitmq":
                Console.WriteLine($"drill: stopping RabbitMQ for {faultFor.TotalSeconds:F0}s");
                await Shell("rabbitmqctl -q stop_app");
                await Task.Delay(faultFor);
                await Shell("rabbitmqctl -q start_app");
                break;
            case "kill":
                foreach (var name in new[] { "Ingestion", "Rules", "WebhookSender", "LaunchEnqueuer" })
                {
                    if (!services.Pids().ContainsKey(name)) continue;
                    Console.WriteLine($"drill: SIGKILL {name}, restart after 1s");
                    if (name == "WebhookSender") extra["sender_killed_at"] = DateTime.UtcNow;
                    await services.KillAndRestartAsync(name, TimeSpan.FromSeconds(1));
                    await Task.Delay(TimeSpan.FromSeconds(o.Short ? 2 : 4));
                }
                break;
            case "postgres":
                Console.WriteLine("drill: restarting PostgreSQL");
                await Shell("service postgresql restart");
                break;
            case "errors":
                Console.WriteLine($"drill: the endpoint answers 500 to half the requests for {faultFor.TotalSeconds:F0}s");
                receiver.FailureRate = 0.5;
                await Task.Delay(faultFor);
                receiver.FailureRate = 0;
                break;
            case "slow":
                Console.WriteLine($"drill: endpoint a hangs past the timeout for {faultFor.TotalSeconds:F0}s; endpoint b must stay fast");
                receiver.Hang = ("a", TimeSpan.FromSeconds(20));
                await Task.Delay(faultFor);
                receiver.Hang = null;
                break;
            case "malformed":
                extra = await SendMalformedAsync(o, load, team);
                break;
            default:
                throw new ArgumentException($"unknown drill {o.Drill}");
        }
        var end = DateTime.UtcNow;
        Console.WriteLine($"drill: fault over after {(end - start).TotalSeconds:F0}s");
        return new DrillReport(o.Drill!, start, end, extra);
    }

    /// <summary>500 malformed events over HTTP (each must get 400) and 500 over AMQP (each must be kept with its reason).</summary>
    private static async Task<Dictionary<string, object?>> SendMalformedAsync(Options o, Load load, Setup.Team team)
    {
        var marker = "malformed-" + Guid.NewGuid().ToString("N")[..8];
        var bodies = new Func<int, string>[]
        {
            i => $"{{\"eventId\": \"{marker}-{i}\", oops",
            i => $$"""{"eventId":"{{marker}}-{{i}}","eventType":"CREATE_ARTIFACT","entity":"{{team.Entity}}","project":"bench","occurredAt":"2026-11-27T22:41:00Z"}""",
            i => $$"""{"eventId":"{{marker}}-{{i}}","eventType":"DELETE_ARTIFACT","entity":"{{team.Entity}}","project":"bench","collection":"c","occurredAt":"2026-11-27T22:41:00Z"}""",
            i => $$"""{"event_id":"{{marker}}-{{i}}","event_type":"CREATE_ARTIFACT","entity":"{{team.Entity}}","project":"bench","collection":"c","occurred_at":"2026-11-27T22:41:00Z"}""",
            i => $$"""{"eventId":"{{marker}}-{{i}}","eventType":"CREATE_ARTIFACT","entity":"nobody-{{marker}}","project":"bench","collection":"c","occurredAt":"2026-11-27T22:41:00Z"}""",
        };
        var http400 = 0;
        var httpOther = 0;
        for (var i = 0; i < 500; i++)
        {
            var body = bodies[i % 4](i); // unknown entity is a 403 over HTTP, covered by the tests; the rest are 400
            var status = await load.SendRawHttpAsync(Encoding.UTF8.GetBytes(body));
            if (status == HttpStatusCode.BadRequest) http400++; else httpOther++;
        }
        for (var i = 500; i < 1000; i++)
            await load.PublishRawAsync("CREATE_ARTIFACT", Encoding.UTF8.GetBytes(bodies[i % bodies.Length](i)));
        await using var ds = NpgsqlDataSource.Create(o.Postgres);
        var kept = 0;
        for (var tries = 0; tries < 120 && kept < 500; tries++)
        {
            await using var c = await ds.OpenConnectionAsync();
            kept = await c.ExecuteScalarAsync<int>("select count(*) from ingestion.rejected_events where position(@marker in convert_from(raw_body, 'UTF8')) > 0", new { marker });
            if (kept < 500) await Task.Delay(500);
        }
        var ok = http400 == 500 && kept == 500;
        Console.WriteLine($"drill: malformed over HTTP: {http400}/500 answered 400 ({httpOther} other); over AMQP: {kept}/500 kept with their reason");
        return new() { ["malformed_http_400"] = http400, ["malformed_amqp_kept"] = kept, ["check"] = ok ? "pass" : "fail" };
    }

    private static double RecentMedianLatencyMs(Receiver receiver)
    {
        var since = DateTime.UtcNow.AddSeconds(-1);
        var recent = receiver.All.Reverse().TakeWhile(r => r.ReceivedAt >= since).Select(r => r.LatencyMs).Where(double.IsFinite).Order().ToArray();
        return recent.Length == 0 ? double.PositiveInfinity : recent[recent.Length / 2];
    }

    private static async Task<long?> CountRecordedDeliveriesAsync(Options o, string entity)
    {
        try
        {
            await using var ds = NpgsqlDataSource.Create(o.Postgres);
            await using var c = await ds.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<long>(DeliveriesRecordedSql, new { entity });
        }
        catch (PostgresException)
        {
            return null;
        }
    }

    /// <summary>Successful deliveries of the benchmark's team, as the webhook sender recorded them.</summary>
    private const string DeliveriesRecordedSql =
        "select count(*) from delivery.deliveries where entity = @entity and status = 'succeeded'";

    private static async Task Shell(string command)
    {
        using var p = Process.Start(new ProcessStartInfo("bash", ["-c", command]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        await p.WaitForExitAsync();
    }

    private static void PrintTable(Dictionary<string, object?> r, Load load)
    {
        Console.WriteLine();
        Console.WriteLine($"{"metric",-30} value");
        Console.WriteLine(new string('-', 72));
        foreach (var (k, v) in r)
            Console.WriteLine($"{k,-30} {(v is string or null ? v : JsonSerializer.Serialize(v, JsonOut))}");
        foreach (var e in load.ErrorSamples) Console.WriteLine($"  send error sample: {e}");
        Console.WriteLine();
    }

    private static void Plot(Receiver receiver, DateTime measureStart, string path, DrillReport report)
    {
        var plt = new ScottPlot.Plot();
        foreach (var group in receiver.All.GroupBy(r => r.Path))
        {
            var points = group.Where(r => double.IsFinite(r.LatencyMs)).OrderBy(r => r.ReceivedAt).ToList();
            var s = plt.Add.ScatterPoints(points.Select(p => (p.ReceivedAt - measureStart).TotalSeconds).ToArray(), points.Select(p => p.LatencyMs).ToArray());
            s.LegendText = $"endpoint {group.Key}";
            s.MarkerSize = 2;
        }
        if (report.FaultStart is { } fs && report.FaultEnd is { } fe)
            plt.Add.HorizontalSpan((fs - measureStart).TotalSeconds, (fe - measureStart).TotalSeconds).LegendText = $"fault: {report.Name}";
        plt.Title("Event occurredAt -> signed webhook received");
        plt.XLabel("seconds since measurement start (negative: warm-up)");
        plt.YLabel("latency (ms)");
        plt.ShowLegend();
        plt.SavePng(path, 1200, 500);
    }
}
