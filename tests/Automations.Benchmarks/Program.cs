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
///   ... --floor | --floor-only           the same job with raw clients first (Floor), then the ratios
/// Prints a table and one JSON line (BENCH_RESULT / DRILL_RESULT), writes a latency-over-time PNG, and exits 1
/// when a check fails: anything missing, doubled or badly signed, a delivery the sender did not record, and for a
/// drill its fault not observed (the broker's port open, PostgreSQL answering, a pid unchanged, no 500 answered, no
/// hang given up, a malformed event let in) or intake refusing where it must not. AUTOMATIONS_DRILL_NOOP=NAME|all
/// skips a drill's fault: its self-test, which must fail.
/// </summary>
public static class Program
{
    internal const string Secret = "whsec_YmVuY2htYXJrLXNpZ25pbmcta2V5LTAxMjM0NTY3";
    private static readonly JsonSerializerOptions JsonOut = new()
    {
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping, // a console line, not HTML
    };

    public static async Task<int> Main(string[] args)
    {
        if (args.Contains("--help") || args.Contains("-h"))
        {
            Console.WriteLine(Options.Usage);
            return 0;
        }
        var o = Options.Parse(args);
        Directory.CreateDirectory(o.Out);
        if ((o.Floor || o.FloorOnly) && (o.Drill is not null || o.Soak is not null))
            throw new ArgumentException("--floor and --floor-only go with the benchmark (--rate, --duration), not with --drill or --soak");
        // The floor first, on the same machine in the same run: the project's figures are read as ratios of it.
        var floor = o.Floor || o.FloorOnly ? await Floor.RunAsync(o, Secret, JsonOut) : null;
        if (o.FloorOnly) return floor!["result"] as string == "pass" ? 0 : 1;
        var endpoints = o.Drill == "slow" ? new[] { "a", "b" } : ["a"];
        var team = await Setup.CreateTeamAsync(o);
        await using var receiver = await Receiver.StartAsync(Secret);
        receiver.Delay = o.ReceiverDelay;
        await Setup.WireAsync(team, receiver.BaseAddress, Secret, endpoints);
        await Task.Delay(500); // the automations cache is dropped on AutomationsChanged; let it arrive
        var services = new Services(o.RunDir);
        if (o.Soak is not null) return await Soak.RunAsync(o, team, receiver, services, JsonOut);
        await using var load = new Load(o, team);
        using var sampler = new Timer(_ => services.SampleOnce(), null, 0, 1000);

        Console.WriteLine($"team {team.Entity}; receiver {receiver.BaseAddress}; rate {(o.Rate > 0 ? o.Rate.ToString(CultureInfo.InvariantCulture) + "/s open loop" : "max, " + o.Concurrency + " concurrent")} via {o.Via}; drill {o.Drill ?? "none"}");

        await WarmUpAsync(o, load, receiver, endpoints.Length);
        services.ResetCpu();
        var cpuFrom = CpuMeter.Take(services.Pids(), o.Postgres);

        // Measure, with the drill's fault injected a few seconds in. The load goes on until the fault has been over for a
        // while: acceptance after it is part of the verdict, and a long fault (the kill drill's four restarts) may
        // outlast --duration.
        var measureStart = DateTime.UtcNow;
        var report = new DrillReport(o.Drill ?? "none");
        var drill = o.Drill is null ? Task.CompletedTask : RunDrillAsync(o, services, receiver, load, team, report);
        var tail = TimeSpan.FromSeconds(o.Short ? 10 : 20);
        await load.RunAsync("m", TimeSpan.FromHours(1), () => DateTime.UtcNow - measureStart >= o.Duration && drill.IsCompleted
            && (report.FaultEnd is not { } faultOver || DateTime.UtcNow >= faultOver + tail));
        await load.FlushAsync();
        var rssWhileSending = services.PeakRssSnapshot();
        try { await drill; }
        catch (Exception ex)
        {
            report.FaultEnd ??= DateTime.UtcNow;
            report.Failures.Add($"the drill stopped: {ex.GetType().Name}: {ex.Message}");
        }
        var sendEnd = DateTime.UtcNow;

        // Drain: wait for everything accepted to arrive (retries included), then check exactly-once.
        var expected = load.Accepted.Keys.ToList();
        var drainUntil = DateTime.UtcNow + (o.Drill is "errors" or "slow" ? TimeSpan.FromMinutes(3) : o.Drain);
        while (DateTime.UtcNow < drainUntil && expected.Any(id => endpoints.Any(e => !receiver.CountByBenchId.ContainsKey(id + "/" + e))))
            await Task.Delay(500);

        // ... and for the sender to record what arrived (its outcome is written after the request, possibly after a retry).
        while (DateTime.UtcNow < drainUntil && await CountRecordedDeliveriesAsync(o, team.Entity) is { } rec && rec < receiver.CountByBenchId.Count)
            await Task.Delay(500);
        // Resident memory once everything was delivered and recorded (sampled every second until then): whether what a
        // backlog took is given back. The peak above covers the sending and the drain.
        services.SampleOnce();
        var (rssAfterDrain, _) = services.Current();
        // CPU per delivered event, from the start of the measurement until everything was delivered and recorded: every
        // arrival in that window (a backlog from the warm-up included) against the CPU each process spent in it.
        var cpuTo = CpuMeter.Take(services.Pids(), o.Postgres);
        var cpuEvents = receiver.All.Count(r => r.ReceivedAt >= cpuFrom.At && r.ReceivedAt <= cpuTo.At) / (double)endpoints.Length;
        var cpu = CpuMeter.MsPerEvent(cpuFrom, cpuTo, cpuEvents);
        var drainedAfter = DateTime.UtcNow - sendEnd;

        var missing = expected.Sum(id => endpoints.Count(e => !receiver.CountByBenchId.ContainsKey(id + "/" + e)));
        // A doubled effect: one event delivered under more than one webhook-id (no receiver can tell them apart).
        var doubled = receiver.CountByBenchId.Values.Sum(n => Math.Max(0, n - 1));
        var resent = (int)Interlocked.Read(ref receiver.DuplicateDeliveries);
        var resentUnexplained = await UnexplainedResendsAsync(o, receiver, report);
        var (throughput, lat) = Measured(receiver, measureStart, sendEnd, endpoints.Length);
        var recorded = await CountRecordedDeliveriesAsync(o, team.Entity);
        var delivered = receiver.CountByBenchId.Count;
        var invalid = Interlocked.Read(ref receiver.InvalidSignatures);

        var result = new Dictionary<string, object?>
        {
            ["drill"] = o.Drill ?? "none",
            ["via"] = o.Via,
            ["rate"] = o.Rate > 0 ? o.Rate : "max",
            ["accepted"] = expected.Count,
            ["refused"] = load.Refused.Count,
            ["delivered"] = delivered,
            ["recorded"] = recorded,
            ["events_per_s"] = Math.Round(throughput, 1),
            ["latency_ms"] = LatencySummary(lat),
            ["lost"] = missing,
            ["doubled"] = doubled,
            ["resent_webhook_ids"] = resent,
            ["resent_unexplained"] = resentUnexplained,
            ["invalid_signatures"] = invalid,
            ["rss_mb_peak"] = services.PeakRssSnapshot().ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 0)),
            ["rss_mb_peak_sending"] = rssWhileSending.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 0)),
            ["rss_mb_after_drain"] = rssAfterDrain.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 0)),
            ["drain_s"] = Math.Round(drainedAfter.TotalSeconds, 0),
            ["cpu_percent_avg"] = services.Cpu.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value.DefaultIfEmpty().Average(), 0)),
            ["cpu_window_s"] = Math.Round((cpuTo.At - cpuFrom.At).TotalSeconds, 1),
            ["cpu_ms_per_event"] = cpu,
            ["wal_bytes_per_event"] = CpuMeter.WalBytesPerEvent(cpuFrom, cpuTo, cpuEvents),
        };
        var failures = report.Failures;
        if (missing > 0) failures.Add($"{missing} accepted event(s) never arrived");
        if (doubled > 0) failures.Add($"{doubled} event(s) arrived under more than one webhook-id");
        if (resentUnexplained > 0) failures.Add($"{resentUnexplained} webhook-id(s) sent again that the sender's attempt log does not place in flight at a fault");
        if (invalid > 0) failures.Add($"{invalid} request(s) with an invalid signature or body");
        // Every arrival recorded once by the sender: an event refused to the producer may still have been stored (the
        // connection broke after the commit) and delivered, so the count is held against what arrived, not what was accepted.
        if (recorded != delivered) failures.Add($"the sender recorded {recorded?.ToString(CultureInfo.InvariantCulture) ?? "?"} successful deliveries, {delivered} arrived");
        if (report.FaultStart is { } fs && report.FaultEnd is { } fe)
        {
            CheckIntake(o.Drill!, load, measureStart, fs, fe, result, failures);
            var during = receiver.All.Where(r => r.Path == (o.Drill == "slow" ? "b" : r.Path) && r.ReceivedAt >= fs && r.ReceivedAt <= fe.AddSeconds(5)).Select(r => r.LatencyMs).Where(double.IsFinite).Order().ToArray();
            result["max_latency_during_fault_ms"] = during.Length > 0 ? Math.Round(during[^1], 1) : null;
            result["p99_latency_during_fault_ms"] = during.Length > 0 ? Math.Round(during[Math.Min(during.Length - 1, (int)Math.Ceiling(0.99 * during.Length) - 1)], 1) : null;
        }
        if (o.Drill is not null)
        {
            await CheckSenderSawTheFaultAsync(o, team.Entity, receiver, report);
            result["fault_observed"] = report.FaultObserved;
        }
        foreach (var (k, v) in report.Extra) result[k] = v;
        var pass = failures.Count == 0;
        result["result"] = pass ? "pass" : "FAIL";
        result["failures"] = failures;

        PrintTable(result, load);
        CpuMeter.PrintTable("project", cpuFrom, cpuTo, cpu, cpuEvents);
        var tag = o.Drill is null ? "BENCH_RESULT" : "DRILL_RESULT";
        Console.WriteLine($"{tag} {JsonSerializer.Serialize(result, JsonOut)}");
        if (floor is not null)
        {
            Console.WriteLine($"RATIO_RESULT {JsonSerializer.Serialize(Ratios(floor, result), JsonOut)}");
            pass = pass && floor["result"] as string == "pass";
        }
        var png = Path.Combine(o.Out, $"latency-{o.Drill ?? "bench"}-{DateTime.UtcNow:yyyyMMddTHHmmss}.png");
        Plot(receiver, measureStart, png, report);
        Console.WriteLine($"latency plot: {png}");
        return pass ? 0 : 1;
    }

    /// <summary>The warm-up, the same for the project run and the floor.</summary>
    internal static async Task WarmUpAsync(Options o, Load load, Receiver receiver, int endpoints)
    {
        // Warm up until delivered throughput is steady (three one-second windows within 10 % of each other, at the
        // offered rate) and nothing queues (median latency of the last second under 250 ms): a fresh .NET process
        // re-JITs its hot paths for tens of seconds under load, and a backlog built then would be measured as latency.
        var warmup = Stopwatch.StartNew();
        if (o.Rate > 0)
        {
            // First at half the rate for the minimum warm-up, then until that has all arrived: a cold system that
            // cannot yet keep up with the full rate would otherwise carry its backlog into the measurement.
            await load.RunAsync("w0", o.MinWarmup, rate: o.Rate / 2);
            await AllArrivedAsync(load, receiver, endpoints, TimeSpan.FromSeconds(60));
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
                && (o.Rate <= 0 || (last3.Average() >= 0.9 * o.Rate * endpoints && RecentMedianLatencyMs(receiver) < 250));
        }
        await warmTask;
        Console.WriteLine($"warm-up {warmup.Elapsed.TotalSeconds:F0}s, {(steady ? "steady" : "not steady, measuring anyway")}: {string.Join(" ", windows)} deliveries/s");
        if (o.Rate <= 0)
        {
            // A closed loop outruns the pipeline, so the warm-up leaves a backlog as long as the warm-up took: measured
            // events queued behind it would be timed against the warm-up's length, not the system's speed. The
            // measurement starts from an empty pipeline, as the open loop's does after its ramp.
            var drained = Stopwatch.StartNew();
            await AllArrivedAsync(load, receiver, endpoints, o.Drain);
            Console.WriteLine($"warm-up backlog drained in {drained.Elapsed.TotalSeconds:F0}s");
        }
    }

    /// <summary>Waits (at most <paramref name="limit"/>) until everything the load had accepted has arrived at every endpoint.</summary>
    private static async Task AllArrivedAsync(Load load, Receiver receiver, int endpoints, TimeSpan limit)
    {
        var until = DateTime.UtcNow + limit;
        while (DateTime.UtcNow < until && receiver.CountByBenchId.Count < load.Accepted.Count * endpoints)
            await Task.Delay(200);
    }

    /// <summary>Throughput of the measured events (ids "m-...") from the start of the measurement to the last arrival, and their sorted latencies.</summary>
    internal static (double EventsPerS, double[] LatencyMs) Measured(Receiver receiver, DateTime measureStart, DateTime sendEnd, int endpoints)
    {
        var measured = receiver.All.Where(r => r.BenchId.StartsWith("m-", StringComparison.Ordinal)).ToList();
        var lastMeasured = measured.Count > 0 ? measured.Max(r => r.ReceivedAt) : sendEnd;
        var throughput = measured.Count / Math.Max(0.001, (lastMeasured - measureStart).TotalSeconds) / endpoints;
        return (throughput, measured.Select(r => r.LatencyMs).Where(double.IsFinite).Order().ToArray());
    }

    internal static Dictionary<string, double> LatencySummary(double[] sorted) => new()
    {
        ["p50"] = Math.Round(Percentile(sorted, 0.50), 1),
        ["p95"] = Math.Round(Percentile(sorted, 0.95), 1),
        ["p99"] = Math.Round(Percentile(sorted, 0.99), 1),
        ["max"] = Math.Round(sorted.LastOrDefault(), 1),
    };

    internal static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

    /// <summary>
    /// The project's figures as ratios of the floor's from the same run: throughput (higher is better; 1 is the floor),
    /// p50 and p99 latency and CPU per delivered event (lower is better; 1 is the floor), with the figures they come from.
    /// CPU is compared for the whole machine and for the processes that do the work (the services or the floor, the
    /// benchmark's load and receiver, PostgreSQL, RabbitMQ): the second leaves out other work on the machine.
    /// </summary>
    private static Dictionary<string, object?> Ratios(Dictionary<string, object?> floor, Dictionary<string, object?> project)
    {
        static double Latency(Dictionary<string, object?> r, string q) => ((Dictionary<string, double>)r["latency_ms"]!)[q];
        static double Cpu(Dictionary<string, object?> r, string key) =>
            ((Dictionary<string, double>)r["cpu_ms_per_event"]!).GetValueOrDefault(key, double.NaN);
        static double Wal(Dictionary<string, object?> r) => r.GetValueOrDefault("wal_bytes_per_event") as double? ?? double.NaN;
        static double Ratio(double a, double b) => b > 0 && double.IsFinite(a) ? Math.Round(a / b, 2) : double.NaN;
        var fe = (double)floor["events_per_s"]!;
        var pe = (double)project["events_per_s"]!;
        return new Dictionary<string, object?>
        {
            ["rate"] = project["rate"],
            ["events_per_s"] = Ratio(pe, fe),
            ["p50"] = Ratio(Latency(project, "p50"), Latency(floor, "p50")),
            ["p99"] = Ratio(Latency(project, "p99"), Latency(floor, "p99")),
            ["cpu_ms_per_event_machine"] = Ratio(Cpu(project, CpuMeter.Machine), Cpu(floor, CpuMeter.Machine)),
            ["cpu_ms_per_event_processes"] = Ratio(Cpu(project, CpuMeter.Processes), Cpu(floor, CpuMeter.Processes)),
            ["wal_bytes_per_event"] = Ratio(Wal(project), Wal(floor)),
            ["floor"] = new
            {
                events_per_s = fe, p50 = Latency(floor, "p50"), p99 = Latency(floor, "p99"),
                cpu_ms_machine = Cpu(floor, CpuMeter.Machine), cpu_ms_processes = Cpu(floor, CpuMeter.Processes), wal_bytes = Wal(floor), result = floor["result"],
            },
            ["project"] = new
            {
                events_per_s = pe, p50 = Latency(project, "p50"), p99 = Latency(project, "p99"),
                cpu_ms_machine = Cpu(project, CpuMeter.Machine), cpu_ms_processes = Cpu(project, CpuMeter.Processes), wal_bytes = Wal(project), result = project["result"],
            },
        };
    }

    /// <summary>What a drill did and saw: its fault window, whether the fault was observed, and what failed.</summary>
    public sealed class DrillReport(string name)
    {
        public string Name { get; } = name;
        public DateTime? FaultStart { get; set; }
        public DateTime? FaultEnd { get; set; }
        /// <summary>Null until a check of the fault ran; false once any check found the fault absent.</summary>
        public bool? FaultObserved { get; private set; }
        public DateTime? SenderKilledAt { get; set; }
        public Dictionary<string, object?> Extra { get; } = [];
        public List<string> Failures { get; } = [];

        /// <summary>Evidence that the fault happened: a drill whose fault did not happen fails, whatever else it saw.</summary>
        public void Observed(bool seen, string what)
        {
            FaultObserved = (FaultObserved ?? true) && seen;
            Console.WriteLine($"drill: {(seen ? "observed" : "NOT observed")}: {what}");
            if (!seen) Failures.Add("fault not observed: " + what);
        }

        public void Require(bool ok, string failure)
        {
            if (!ok) Failures.Add(failure);
        }
    }

    /// <summary>
    /// Drills named in AUTOMATIONS_DRILL_NOOP (comma-separated, or "all") skip their fault: the drill's self-test. Each
    /// must then fail with "fault not observed" (deploy/local/drills.sh checks this); a drill that passes without its
    /// fault would prove nothing when it passes with it.
    /// </summary>
    private static bool FaultSkipped(string drill) =>
        (Environment.GetEnvironmentVariable("AUTOMATIONS_DRILL_NOOP") ?? "").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
        .Any(d => d == "all" || d == drill);

    private static async Task RunDrillAsync(Options o, Services services, Receiver receiver, Load load, Setup.Team team, DrillReport report)
    {
        var faultFor = o.Short ? TimeSpan.FromSeconds(8) : TimeSpan.FromSeconds(o.Drill is "errors" ? 60 : 30);
        var skip = FaultSkipped(o.Drill!);
        if (skip) report.Extra["fault_skipped"] = true;
        async Task InjectAsync(string command)
        {
            if (skip) Console.WriteLine($"drill: SELF-TEST (AUTOMATIONS_DRILL_NOOP): not running `{command}`");
            else await Shell(command);
        }
        await Task.Delay(TimeSpan.FromSeconds(o.Short ? 2 : 5));
        report.FaultStart = DateTime.UtcNow;
        try
        {
            switch (o.Drill)
            {
                case "rabbitmq":
                {
                    var amqp = new Uri(o.RabbitMq);
                    var (host, port) = (amqp.Host, amqp.IsDefaultPort || amqp.Port < 0 ? 5672 : amqp.Port);
                    Console.WriteLine($"drill: stopping RabbitMQ for {faultFor.TotalSeconds:F0}s");
                    await InjectAsync("deploy/local/infra.sh stop rabbitmq");
                    try
                    {
                        var (down, probes) = await WatchAsync(faultFor, async () => !await Probe.AcceptsTcpAsync(host, port));
                        report.Extra["broker_refused_probes"] = $"{down}/{probes}";
                        report.Observed(probes > 0 && down == probes, $"the broker's AMQP port {host}:{port} refused {down} of {probes} connection attempts while stopped");
                    }
                    finally
                    {
                        await InjectAsync("deploy/local/infra.sh start rabbitmq");
                    }
                    report.Require(await Probe.AcceptsTcpAsync(host, port), $"the broker's AMQP port {host}:{port} is not open again after the restart");
                    break;
                }
                case "kill":
                {
                    var kills = new List<string>();
                    foreach (var name in new[] { "Ingestion", "Rules", "WebhookSender", "LaunchEnqueuer" })
                    {
                        var before = services.PidOf(name); // a missing pid file fails the drill: a service not killed is not tested
                        if (skip) Console.WriteLine($"drill: SELF-TEST (AUTOMATIONS_DRILL_NOOP): not killing {name} (pid {before})");
                        else
                        {
                            Console.WriteLine($"drill: SIGKILL {name} (pid {before}), restart after 1s");
                            if (name == "WebhookSender") report.SenderKilledAt = DateTime.UtcNow;
                            await services.KillAndRestartAsync(name, TimeSpan.FromSeconds(1));
                        }
                        var after = services.PidOf(name);
                        report.Observed(after != before && !Services.IsRunning(before), $"{name} pid {before} -> {after}, the old process {(Services.IsRunning(before) ? "still running" : "gone")}");
                        report.Require(await services.WaitReadyAsync(name, TimeSpan.FromSeconds(60)), $"{name} (pid {after}) not ready within 60 s of its restart");
                        kills.Add($"{name} {before}->{after}");
                        await Task.Delay(TimeSpan.FromSeconds(o.Short ? 2 : 4));
                    }
                    report.Extra["kills"] = kills;
                    break;
                }
                case "postgres":
                {
                    var csb = new NpgsqlConnectionStringBuilder(o.Postgres) { Pooling = false, Timeout = 2 };
                    Console.WriteLine($"drill: stopping PostgreSQL for {faultFor.TotalSeconds:F0}s");
                    await InjectAsync("deploy/local/infra.sh stop postgres");
                    try
                    {
                        var (down, probes) = await WatchAsync(faultFor, async () => !await Probe.PostgresAnswersAsync(csb.ConnectionString));
                        report.Extra["postgres_unreachable_probes"] = $"{down}/{probes}";
                        report.Observed(probes > 0 && down == probes, $"PostgreSQL at {csb.Host}:{csb.Port} was unreachable for {down} of {probes} connection attempts while stopped");
                    }
                    finally
                    {
                        await InjectAsync("deploy/local/infra.sh start postgres");
                    }
                    report.Require(await Probe.PostgresAnswersAsync(csb.ConnectionString), "PostgreSQL does not answer again after the restart");
                    break;
                }
                case "errors":
                    Console.WriteLine($"drill: the endpoint answers 500 to half the requests for {faultFor.TotalSeconds:F0}s");
                    if (skip) Console.WriteLine("drill: SELF-TEST (AUTOMATIONS_DRILL_NOOP): the endpoint answers normally");
                    else receiver.FailureRate = 0.5;
                    await Task.Delay(faultFor);
                    receiver.FailureRate = 0;
                    var answered = Interlocked.Read(ref receiver.Answered500);
                    report.Extra["answered_500"] = answered;
                    report.Observed(answered > 0, $"the receiver answered {answered} requests with 500");
                    break;
                case "slow":
                    Console.WriteLine($"drill: endpoint a hangs past the timeout for {faultFor.TotalSeconds:F0}s; endpoint b must stay fast");
                    if (skip) Console.WriteLine("drill: SELF-TEST (AUTOMATIONS_DRILL_NOOP): endpoint a answers normally");
                    else receiver.Hang = ("a", TimeSpan.FromSeconds(20));
                    await Task.Delay(faultFor);
                    receiver.Hang = null;
                    // A request still hanging is given up by the sender within its timeout: wait for that before counting.
                    var abandoned = 0L;
                    for (var until = DateTime.UtcNow.AddSeconds(25); DateTime.UtcNow < until && (abandoned = Interlocked.Read(ref receiver.HangsAbandoned)) == 0;)
                        await Task.Delay(250);
                    report.Extra["hanging_requests_abandoned"] = abandoned;
                    report.Observed(abandoned > 0, $"the sender gave up on {abandoned} hanging request(s) to endpoint a (its timeout)");
                    break;
                case "malformed":
                    if (skip) Console.WriteLine("drill: SELF-TEST (AUTOMATIONS_DRILL_NOOP): sending no malformed events");
                    await SendMalformedAsync(o, load, team, report, count: skip ? 0 : 500);
                    break;
                default:
                    throw new ArgumentException($"unknown drill {o.Drill}");
            }
        }
        finally
        {
            report.FaultEnd = DateTime.UtcNow;
            Console.WriteLine($"drill: fault over after {(report.FaultEnd.Value - report.FaultStart.Value).TotalSeconds:F0}s");
        }
    }

    /// <summary>Probes every 250 ms for <paramref name="duration"/>: how many probes found the fault, of how many.</summary>
    private static async Task<(int Down, int Probes)> WatchAsync(TimeSpan duration, Func<Task<bool>> isDown)
    {
        var (down, probes) = (0, 0);
        var until = DateTime.UtcNow + duration;
        while (DateTime.UtcNow < until)
        {
            probes++;
            if (await isDown()) down++;
            await Task.Delay(250);
        }
        return (down, probes);
    }

    /// <summary>Connection checks that do not go through the system under test.</summary>
    private static class Probe
    {
        /// <summary>Whether a TCP connection is accepted within a second (refused, unreachable or silent: false).</summary>
        public static async Task<bool> AcceptsTcpAsync(string host, int port)
        {
            using var client = new System.Net.Sockets.TcpClient();
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            try
            {
                await client.ConnectAsync(host, port, cts.Token);
                return true;
            }
            catch (Exception ex) when (ex is System.Net.Sockets.SocketException or OperationCanceledException)
            {
                return false;
            }
        }

        /// <summary>Whether PostgreSQL takes a new connection and answers a query.</summary>
        public static async Task<bool> PostgresAnswersAsync(string connectionString)
        {
            try
            {
                await using var c = new NpgsqlConnection(connectionString);
                await c.OpenAsync();
                return await c.ExecuteScalarAsync<int>("select 1") == 1;
            }
            catch (Exception ex) when (ex is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException or OperationCanceledException)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// Intake before, during and after the fault: accepted events by when they were sent, refusals by when they came
    /// back. Accepted events are required in each window where intake can work: during a PostgreSQL stop it cannot
    /// store an event, so there "during" is reported only. Refusals are allowed only to the drills that take intake's
    /// dependencies away (kill, postgres), and only from the fault's start until <see cref="RefusalGrace"/> after its
    /// end (pools reconnect, a restarted service warms up); every other refusal fails the drill.
    /// </summary>
    private static void CheckIntake(string drill, Load load, DateTime measureStart, DateTime fs, DateTime fe, Dictionary<string, object?> result, List<string> failures)
    {
        var accepted = load.Accepted.Values.ToList();
        var refused = load.Refused.Values.ToList();
        var (before, during, after) = (accepted.Count(t => t >= measureStart && t < fs), accepted.Count(t => t >= fs && t <= fe), accepted.Count(t => t > fe));
        result["accepted_before_during_after"] = new[] { before, during, after };
        result["refused_before_during_after"] = new[] { refused.Count(t => t >= measureStart && t < fs), refused.Count(t => t >= fs && t <= fe), refused.Count(t => t > fe) };
        if (before == 0) failures.Add("no event accepted before the fault");
        if (after == 0) failures.Add("no event accepted after the fault");
        if (during == 0 && drill != "postgres") failures.Add("no event accepted during the fault");
        var mayRefuse = drill is "kill" or "postgres";
        var outside = refused.Count(t => !mayRefuse || t < fs || t > fe + RefusalGrace);
        result["refused_outside_fault"] = outside;
        if (outside > 0)
            failures.Add(mayRefuse ? $"{outside} event(s) refused outside the fault (and its {RefusalGrace.TotalSeconds:F0} s of recovery)" : $"{outside} event(s) refused; this fault must not stop intake");
    }

    private static readonly TimeSpan RefusalGrace = TimeSpan.FromSeconds(10);

    /// <summary>
    /// A webhook-id received again is absorbed by a receiver that dedupes by it (Standard Webhooks), but the sender
    /// sends one again only when it could not record that the first copy was answered: it was killed, or its database
    /// was stopped, with the request in flight. The sender's attempt log decides: a repeat is explained only when the
    /// first copy came in such a window, and the log holds an attempt for every later copy and none for the first one
    /// (the attempt that died unrecorded).
    /// </summary>
    private static async Task<int> UnexplainedResendsAsync(Options o, Receiver receiver, DrillReport report)
    {
        var repeats = receiver.Repeats.GroupBy(r => (r.WebhookId, r.Path)).ToList();
        if (repeats.Count == 0) return 0;
        var windows = new List<(DateTime From, DateTime To)>();
        // The attempt cannot have started more than a minute before the kill: the sender's timeout is well under that.
        if (report.SenderKilledAt is { } killed) windows.Add((killed.AddSeconds(-60), killed.AddSeconds(1)));
        if (report.Name == "postgres" && report.FaultStart is { } fs && report.FaultEnd is { } fe) windows.Add((fs.AddSeconds(-1), fe));
        var ids = repeats.Select(g => Guid.TryParse(g.Key.WebhookId, out var id) ? id : Guid.Empty).Distinct().ToArray();
        await using var ds = NpgsqlDataSource.Create(o.Postgres);
        await using var c = await ds.OpenConnectionAsync();
        var attempts = (await c.QueryAsync<(Guid DeliveryId, DateTime StartedAt)>(
                "select delivery_id, started_at from delivery.attempts where delivery_id = any(@ids)", new { ids }))
            .ToLookup(a => a.DeliveryId, a => DateTime.SpecifyKind(a.StartedAt, DateTimeKind.Utc));
        var unexplained = 0;
        var explained = 0;
        foreach (var g in repeats)
        {
            var first = g.First().FirstReceivedAt;
            var logged = Guid.TryParse(g.Key.WebhookId, out var id) ? attempts[id].ToList() : [];
            var ok = windows.Any(w => first >= w.From && first <= w.To) && logged.Count == g.Count() && logged.All(t => t > first);
            if (ok) explained++;
            else
            {
                unexplained++;
                Console.WriteLine($"resent webhook-id {g.Key.WebhookId} ({g.Key.Path}): first copy {first:HH:mm:ss.fff}, {g.Count()} more; attempts logged at {string.Join(", ", logged.Select(t => t.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)))}");
            }
        }
        report.Extra["resent_in_flight_at_fault"] = explained;
        return unexplained;
    }

    /// <summary>The sender's attempt log agrees with the receiver: the 500s it answered and the hangs the sender gave up on were seen and logged.</summary>
    private static async Task CheckSenderSawTheFaultAsync(Options o, string entity, Receiver receiver, DrillReport report)
    {
        if (report.Name is not ("errors" or "slow")) return;
        await using var ds = NpgsqlDataSource.Create(o.Postgres);
        await using var c = await ds.OpenConnectionAsync();
        if (report.Name == "errors")
        {
            var logged = await c.ExecuteScalarAsync<long>(
                "select count(*) from delivery.attempts a join delivery.deliveries d on d.id = a.delivery_id where d.entity = @entity and a.status_code = 500", new { entity });
            var answered = Interlocked.Read(ref receiver.Answered500);
            report.Extra["sender_logged_500"] = logged;
            report.Require(logged == answered, $"the receiver answered {answered} requests with 500, the sender logged {logged}");
        }
        else
        {
            var logged = await c.ExecuteScalarAsync<long>(
                "select count(*) from delivery.attempts a join delivery.deliveries d on d.id = a.delivery_id where d.entity = @entity and a.status_code is null and a.error is not null", new { entity });
            report.Extra["sender_logged_no_answer"] = logged;
            report.Require(logged > 0, "the sender logged no attempt without an answer, though endpoint a hung past its timeout");
        }
    }

    /// <summary>Malformed events over HTTP (each must get 400) and over AMQP (each must be kept with its reason), <paramref name="count"/> each way.</summary>
    private static async Task SendMalformedAsync(Options o, Load load, Setup.Team team, DrillReport report, int count)
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
        for (var i = 0; i < count; i++)
        {
            var body = bodies[i % 4](i); // unknown entity is a 403 over HTTP, covered by the tests; the rest are 400
            var status = await load.SendRawHttpAsync(Encoding.UTF8.GetBytes(body));
            if (status == HttpStatusCode.BadRequest) http400++; else httpOther++;
        }
        for (var i = count; i < 2 * count; i++)
            await load.PublishRawAsync("CREATE_ARTIFACT", Encoding.UTF8.GetBytes(bodies[i % bodies.Length](i)));
        await using var ds = NpgsqlDataSource.Create(o.Postgres);
        async Task<int> KeptAsync()
        {
            await using var c = await ds.OpenConnectionAsync();
            return await c.ExecuteScalarAsync<int>("select count(*) from ingestion.rejected_events where position(@marker in convert_from(raw_body, 'UTF8')) > 0", new { marker });
        }
        int kept;
        var until = DateTime.UtcNow.AddSeconds(60);
        while ((kept = await KeptAsync()) < count && DateTime.UtcNow < until) await Task.Delay(500);
        Console.WriteLine($"drill: malformed over HTTP: {http400}/500 answered 400 ({httpOther} other); over AMQP: {kept}/500 kept with their reason");
        report.Extra["malformed_http_400"] = http400;
        report.Extra["malformed_amqp_kept"] = kept;
        report.Observed(http400 == 500 && httpOther == 0, $"{http400} of 500 malformed events over HTTP answered 400 ({httpOther} otherwise)");
        report.Observed(kept == 500, $"{kept} of 500 malformed events over AMQP kept with their reason");
    }

    private static double RecentMedianLatencyMs(Receiver receiver)
    {
        var since = DateTime.UtcNow.AddSeconds(-1);
        var recent = receiver.All.Reverse().TakeWhile(r => r.ReceivedAt >= since).Select(r => r.LatencyMs).Where(double.IsFinite).Order().ToArray();
        return recent.Length == 0 ? double.PositiveInfinity : recent[recent.Length / 2];
    }

    internal static async Task<long?> CountRecordedDeliveriesAsync(Options o, string entity)
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

    /// <summary>Runs a fault command; a non-zero exit throws (with its output), which fails the drill.</summary>
    private static async Task Shell(string command)
    {
        using var p = Process.Start(new ProcessStartInfo("bash", ["-c", command]) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        await p.WaitForExitAsync();
        if (p.ExitCode != 0)
            throw new InvalidOperationException($"`{command}` exited with {p.ExitCode}: {(await stdout + await stderr).Trim()}");
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
