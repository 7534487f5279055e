using System.Globalization;

namespace Automations.Benchmarks;

/// <summary>Command line: --name value pairs and flags.</summary>
public sealed record Options
{
    public string Api { get; init; } = "http://127.0.0.1:5080";
    public string Ingestion { get; init; } = "http://127.0.0.1:5081";
    public string Postgres { get; init; } = "Host=127.0.0.1;Port=5432;Username=automations;Password=automations;Database=automations;SSL Mode=Disable";
    public string RabbitMq { get; init; } = "amqp://guest:guest@127.0.0.1:5672/";
    /// <summary>Events per second (open loop), or 0 for as fast as possible.</summary>
    public double Rate { get; init; } = 200;
    public int Concurrency { get; init; } = 64;
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan MaxWarmup { get; init; } = TimeSpan.FromSeconds(60);
    public TimeSpan MinWarmup { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan Drain { get; init; } = TimeSpan.FromSeconds(90);
    public string Via { get; init; } = "http";
    public string Out { get; init; } = "bench-results";
    public string? Drill { get; init; }
    public bool Short { get; init; }
    public string RunDir { get; init; } = ".run";
    public string RabbitMqManagement { get; init; } = "http://guest:guest@127.0.0.1:15672/";
    /// <summary>Soak mode: how long to hold the fixed rate (null: the benchmark or a drill).</summary>
    public TimeSpan? Soak { get; init; }
    /// <summary>Every webhook request is answered this late (a slow receiver: the sender becomes the bottleneck).</summary>
    public TimeSpan ReceiverDelay { get; init; }
    /// <summary>The floor (raw clients, same machine, same run) before the project run, and the ratios after it.</summary>
    public bool Floor { get; init; }
    /// <summary>Only the floor: no services needed.</summary>
    public bool FloorOnly { get; init; }

    public const string Usage = """
        Automations.Benchmarks: end-to-end benchmark and fault drills against the system deploy/local/up.sh runs.
          --rate N|max          events per second, open loop (default 200); max: closed loop with --concurrency (64)
          --duration S          measured seconds (default 30; 15 with --short)
          --min-warmup S        warm-up at least this long (default 30; 5 with --short)
          --max-warmup S        then until steady, at most this long (default 120; 15 with --short)
          --drain S             wait this long for everything to arrive and be recorded (default 90)
          --via http|amqp       how events are sent (default http)
          --drill NAME          rabbitmq | kill | postgres | errors | slow | malformed
          --short               the short form (CI)
          --soak T              soak mode: T (90s, 3m, 60m, 2h) at the fixed --rate after --min-warmup; one line
                                per minute (delivered/s, p50/p99, RSS per service, database size, backlog), a PNG,
                                a drift summary and one SOAK_RESULT line; exits 1 when the exactly-once check fails
          --receiver-delay MS   the receiver answers every webhook this late (default 0): the sender sends at most
                                32 requests at once to the one webhook, so 200 ms caps delivery at 160/s
          --floor               first the floor: the same job with raw clients (Kestrel, Npgsql, RabbitMQ.Client,
                                HttpClient) in this process, same --rate and --duration, then the project run, then
                                RATIO_RESULT (project / floor: throughput, p50, p99, CPU ms per event)
          --floor-only          only the floor (FLOOR_RESULT); needs the broker and database, not the services
          --out DIR             where the latency plot goes (default bench-results)
          --api URL --ingestion URL --postgres CS --rabbitmq URI --rabbitmq-management URL --run-dir DIR
        Prints a table and one JSON line (BENCH_RESULT / DRILL_RESULT / SOAK_RESULT; with the floor FLOOR_RESULT and
        RATIO_RESULT too); exits 1 when the exactly-once check fails.
        """;

    public static Options Parse(string[] args)
    {
        var map = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var flags = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < args.Length; i++)
        {
            if (!args[i].StartsWith("--", StringComparison.Ordinal)) continue;
            var name = args[i][2..];
            if (i + 1 < args.Length && !args[i + 1].StartsWith("--", StringComparison.Ordinal)) map[name] = args[++i];
            else flags.Add(name);
        }
        string S(string k, string d) => map.TryGetValue(k, out var v) ? v : d;
        double D(string k, double d) => map.TryGetValue(k, out var v) ? (v == "max" ? 0 : double.Parse(v, CultureInfo.InvariantCulture)) : d;
        var shortForm = flags.Contains("short");
        return new Options
        {
            Api = S("api", "http://127.0.0.1:5080"),
            Ingestion = S("ingestion", "http://127.0.0.1:5081"),
            Postgres = S("postgres", Environment.GetEnvironmentVariable("ConnectionStrings__Postgres") ?? new Options().Postgres),
            RabbitMq = S("rabbitmq", Environment.GetEnvironmentVariable("ConnectionStrings__RabbitMq") ?? new Options().RabbitMq),
            Rate = D("rate", 200),
            Concurrency = (int)D("concurrency", 64),
            Duration = TimeSpan.FromSeconds(D("duration", shortForm ? 15 : 30)),
            MaxWarmup = TimeSpan.FromSeconds(D("max-warmup", shortForm ? 15 : 120)),
            MinWarmup = TimeSpan.FromSeconds(D("min-warmup", shortForm ? 5 : 30)),
            Drain = TimeSpan.FromSeconds(D("drain", 90)),
            Via = S("via", "http"),
            Out = S("out", "bench-results"),
            Drill = map.GetValueOrDefault("drill"),
            Short = shortForm,
            RunDir = S("run-dir", ".run"),
            RabbitMqManagement = S("rabbitmq-management", Environment.GetEnvironmentVariable("AUTOMATIONS_TEST_RABBITMQ_MANAGEMENT") ?? new Options().RabbitMqManagement),
            Soak = map.TryGetValue("soak", out var soak) ? ParseSpan(soak) : null,
            ReceiverDelay = TimeSpan.FromMilliseconds(D("receiver-delay", 0)),
            Floor = flags.Contains("floor"),
            FloorOnly = flags.Contains("floor-only"),
        };
    }

    /// <summary>90s, 3m, 60m, 2h; a bare number is seconds.</summary>
    public static TimeSpan ParseSpan(string text)
    {
        var unit = text[^1];
        var number = char.IsDigit(unit) ? text : text[..^1];
        var value = double.Parse(number, NumberStyles.Float, CultureInfo.InvariantCulture);
        var span = unit switch
        {
            'h' => TimeSpan.FromHours(value),
            'm' => TimeSpan.FromMinutes(value),
            's' or (>= '0' and <= '9') => TimeSpan.FromSeconds(value),
            _ => throw new ArgumentException($"--soak {text}: expected a duration such as 90s, 3m, 60m or 2h"),
        };
        return span > TimeSpan.Zero ? span : throw new ArgumentException($"--soak {text}: must be positive");
    }
}
