using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Dapper;
using Npgsql;

namespace Automations.Benchmarks;

/// <summary>
/// Soak mode (--soak T): the fixed open-loop --rate for T after a --min-warmup, one line per minute (delivered/s, p50
/// and p99 of the events that arrived in that minute, each service's peak resident set in it, the database's size and
/// largest tables, the backlog in the outboxes, the sender's pending deliveries and the broker's queues), then a drain,
/// the exactly-once check (<see cref="SoakLedger"/>: bounded per event), a drift summary (the first against the last
/// ten minutes), one PNG of the three series over time and one SOAK_RESULT line.
/// </summary>
public static class Soak
{
    public sealed record Minute(
        int Index,
        double Seconds,
        double DeliveredPerS,
        double P50Ms,
        double P99Ms,
        Dictionary<string, double> RssMb,
        Dictionary<string, double> RssAnonMb,
        Database? Db);

    /// <summary>What the database and the broker hold at the end of a minute.</summary>
    public sealed record Database(
        double SizeMb,
        List<KeyValuePair<string, double>> LargestTablesMb,
        Dictionary<string, long> OutboxRows,
        long PendingDeliveries,
        Dictionary<string, long>? QueuedMessages);

    private const int LargestTables = 5;

    public static async Task<int> RunAsync(Options o, Setup.Team team, Receiver receiver, Services services, JsonSerializerOptions json)
    {
        var soakFor = o.Soak!.Value;
        if (o.Rate <= 0) throw new ArgumentException("--soak needs a fixed --rate (events/s), not max");
        var ledger = new SoakLedger("s");
        receiver.Ledger = ledger;
        await using var load = new Load(o, team, ledger);
        await using var probe = await Probe.CreateAsync(o);
        using var sampler = new Timer(_ => services.SampleOnce(), null, 0, 1000);
        Console.WriteLine($"soak: {soakFor} at {o.Rate.ToString(CultureInfo.InvariantCulture)}/s via {o.Via} after {o.MinWarmup.TotalSeconds:F0}s of warm-up; team {team.Entity}; receiver {receiver.BaseAddress}");

        // One run of the load for warm-up and soak: the events are numbered s-0, s-1, ... throughout, which is what
        // the ledger indexes by. The minutes are counted by arrival, from the end of the warm-up.
        var started = DateTime.UtcNow;
        var loadTask = load.RunAsync("s", o.MinWarmup + soakFor);
        // A user reading the history through the Api meanwhile (the largest pages it serves), so its memory is measured
        // under reads, not idle.
        using var readerStop = new CancellationTokenSource();
        var readerTask = ReadHistoryAsync(team, readerStop.Token);
        await Task.Delay(o.MinWarmup);
        var warm = ledger.TakeMinute();
        services.TakeWindowPeakRssMb();
        Console.WriteLine($"warm-up {o.MinWarmup.TotalSeconds:F0}s: {warm.Length} delivered, p50 {Percentile(warm, 0.50):F0} ms, p99 {Percentile(warm, 0.99):F0} ms (not counted)");

        var soakStart = DateTime.UtcNow;
        var minutes = new List<Minute>();
        var count = (int)Math.Ceiling(soakFor.TotalMinutes - 1e-9);
        var previous = soakStart;
        for (var m = 1; m <= count; m++)
        {
            var end = soakStart + TimeSpan.FromMinutes(Math.Min(m, soakFor.TotalMinutes));
            if (end > DateTime.UtcNow) await Task.Delay(end - DateTime.UtcNow);
            var latencies = ledger.TakeMinute();
            var rss = services.TakeWindowPeakRssMb();
            var (_, anon) = services.Current();
            var db = await probe.SampleAsync();
            var seconds = (end - previous).TotalSeconds;
            previous = end;
            var minute = new Minute(m, seconds, latencies.Length / seconds, Percentile(latencies, 0.50), Percentile(latencies, 0.99), rss, anon, db);
            minutes.Add(minute);
            Console.WriteLine(Line(minute));
        }
        await loadTask;
        await load.FlushAsync();
        await readerStop.CancelAsync();
        var historyReads = await readerTask;
        Console.WriteLine($"history pages read through the Api: {historyReads.Pages} ({historyReads.Failed} failed)");

        // Drain: everything accepted arrived, and the sender recorded what arrived.
        var sendEnd = DateTime.UtcNow;
        var drainUntil = sendEnd + o.Drain;
        while (DateTime.UtcNow < drainUntil && ledger.Missing() > 0) await Task.Delay(500);
        // Under retention (a soak sets it to minutes) the sender's oldest records are gone by design: the check is that
        // every record left belongs to an arrival, and that the last minute's arrivals are all recorded.
        HashSet<Guid> recordedIds;
        (long Unmatched, long RecentMissing) compared;
        while (true)
        {
            recordedIds = await RecordedIdsAsync(o, team.Entity);
            compared = ledger.CompareRecorded(recordedIds, recent: (long)(o.Rate * 60));
            if (compared.RecentMissing == 0 || DateTime.UtcNow >= drainUntil) break;
            await Task.Delay(1000);
        }
        long? recorded = recordedIds.Count;
        services.SampleOnce();
        var (rssAfter, anonAfter) = services.Current();
        var dbAfter = await probe.SampleAsync();
        Console.WriteLine($"drained in {(DateTime.UtcNow - sendEnd).TotalSeconds:F0}s; RSS after (MB): {Services(rssAfter)}; anon {Services(anonAfter)}; db {dbAfter?.SizeMb:F0} MB");

        var missing = ledger.Missing();
        var failures = new List<string>();
        if (missing > 0) failures.Add($"{missing} accepted event(s) never arrived");
        if (ledger.Doubled > 0) failures.Add($"{ledger.Doubled} event(s) arrived under more than one webhook-id");
        // Without a fault the sender has no reason to send a webhook-id twice.
        if (ledger.Resent > 0) failures.Add($"{ledger.Resent} webhook-id(s) sent again without a fault");
        if (ledger.Unknown > 0) failures.Add($"{ledger.Unknown} arrival(s) with an event id or webhook-id the load did not send");
        var invalid = Interlocked.Read(ref receiver.InvalidSignatures);
        if (invalid > 0) failures.Add($"{invalid} request(s) with an invalid signature or body");
        var (unmatched, recentMissing) = compared;
        if (unmatched > 0) failures.Add($"{unmatched} recorded successful deliveries match no arrival");
        if (recentMissing > 0) failures.Add($"{recentMissing} of the last minute's arrivals are not recorded as delivered");
        if (recorded > ledger.Delivered) failures.Add($"the sender recorded {recorded} successful deliveries, {ledger.Delivered} arrived");
        foreach (var s in ledger.Samples) Console.WriteLine($"  {s}");

        var drift = Drift(minutes);
        var result = new Dictionary<string, object?>
        {
            ["rate"] = o.Rate,
            ["via"] = o.Via,
            ["soak_s"] = soakFor.TotalSeconds,
            ["started"] = started,
            ["accepted"] = ledger.AcceptedCount,
            ["refused"] = ledger.RefusedCount,
            ["delivered"] = ledger.Delivered,
            ["recorded"] = recorded,
            ["dropped_by_retention"] = recorded is { } kept ? ledger.Delivered - kept : null,
            ["lost"] = missing,
            ["doubled"] = ledger.Doubled,
            ["resent_webhook_ids"] = ledger.Resent,
            ["invalid_signatures"] = invalid + ledger.Unknown,
            ["history_pages_read"] = historyReads.Pages,
            ["history_pages_failed"] = historyReads.Failed,
            ["receiver_ledger_mb"] = Math.Round(ledger.BytesHeld / 1048576.0, 1),
            ["rss_mb_after_drain"] = Round(rssAfter),
            ["rss_anon_mb_after_drain"] = Round(anonAfter),
            ["db_mb_after_drain"] = dbAfter is null ? null : Math.Round(dbAfter.SizeMb, 1),
            ["drift"] = drift,
            ["result"] = failures.Count == 0 ? "pass" : "FAIL",
            ["failures"] = failures,
            ["minutes"] = minutes.Select(m => new Dictionary<string, object?>
            {
                ["minute"] = m.Index,
                ["seconds"] = Math.Round(m.Seconds, 1),
                ["delivered_per_s"] = Math.Round(m.DeliveredPerS, 1),
                ["p50_ms"] = Math.Round(m.P50Ms, 1),
                ["p99_ms"] = Math.Round(m.P99Ms, 1),
                ["rss_mb"] = Round(m.RssMb),
                ["rss_anon_mb"] = Round(m.RssAnonMb),
                ["db_mb"] = m.Db is null ? null : Math.Round(m.Db.SizeMb, 1),
                ["largest_tables_mb"] = m.Db?.LargestTablesMb.ToDictionary(t => t.Key, t => Math.Round(t.Value, 1)),
                ["outbox_rows"] = m.Db?.OutboxRows,
                ["pending_deliveries"] = m.Db?.PendingDeliveries,
                ["queued_messages"] = m.Db?.QueuedMessages,
            }).ToList(),
        };
        PrintDrift(drift);
        Console.WriteLine($"SOAK_RESULT {JsonSerializer.Serialize(result, json)}");
        Directory.CreateDirectory(o.Out);
        var png = Path.Combine(o.Out, $"soak-{DateTime.UtcNow:yyyyMMddTHHmmss}.png");
        Plot(minutes, o, png);
        Console.WriteLine($"soak plot: {png}");
        Console.WriteLine(failures.Count == 0 ? "soak: pass" : "soak: FAIL: " + string.Join("; ", failures));
        return failures.Count == 0 ? 0 : 1;
    }

    private static string Line(Minute m)
    {
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"min {m.Index,3} {m.DeliveredPerS,6:F1}/s p50 {m.P50Ms,6:F0} p99 {m.P99Ms,6:F0} ms | RSS MB {Services(m.RssMb)}");
        if (m.Db is not { } db) return b.Append(" | db ?").ToString();
        b.Append(CultureInfo.InvariantCulture, $" | db {db.SizeMb:F0} MB: ");
        b.Append(string.Join(", ", db.LargestTablesMb.Take(3).Select(t => $"{t.Key} {t.Value:F0}")));
        b.Append(" | outbox ").Append(string.Join(" ", db.OutboxRows.Select(kv => $"{kv.Key} {kv.Value}")));
        b.Append(CultureInfo.InvariantCulture, $", pending {db.PendingDeliveries}");
        if (db.QueuedMessages is { } q)
            b.Append(", queued ").Append(q.Count == 0 ? "0" : string.Join(" ", q.OrderByDescending(kv => kv.Value).Take(3).Select(kv => $"{kv.Key} {kv.Value}")));
        return b.ToString();
    }

    private static string Services(Dictionary<string, double> mb) =>
        string.Join(" ", mb.OrderBy(kv => kv.Key, StringComparer.Ordinal).Select(kv => $"{kv.Key} {kv.Value:F0}"));

    private static Dictionary<string, double> Round(Dictionary<string, double> mb) => mb.ToDictionary(kv => kv.Key, kv => Math.Round(kv.Value, 0));

    /// <summary>Nearest-rank percentile of sorted values; NaN when there are none.</summary>
    public static double Percentile(float[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(q * sorted.Length) - 1, 0, sorted.Length - 1)];

    /// <summary>
    /// The first against the last minutes (ten of each, or half the run when shorter): the mean of the per-minute p99,
    /// of each service's per-minute peak RSS and of the database size, and the database's growth per minute.
    /// </summary>
    public static Dictionary<string, object?> Drift(List<Minute> minutes)
    {
        var k = minutes.Count >= 20 ? 10 : Math.Max(1, minutes.Count / 2);
        var first = minutes.Take(k).ToList();
        var last = minutes.TakeLast(k).ToList();
        static double Mean(IEnumerable<double> xs) => xs.Where(double.IsFinite).DefaultIfEmpty(double.NaN).Average();
        static object Pair(double a, double b) => new { first = Math.Round(a, 1), last = Math.Round(b, 1) };
        static double Growth(List<Minute> w) =>
            w.Count < 2 || w[0].Db is null || w[^1].Db is null ? double.NaN : (w[^1].Db!.SizeMb - w[0].Db!.SizeMb) / (w[^1].Index - w[0].Index);
        var services = minutes.SelectMany(m => m.RssMb.Keys).Distinct().Order(StringComparer.Ordinal);
        return new Dictionary<string, object?>
        {
            ["window_minutes"] = k,
            ["p99_ms"] = Pair(Mean(first.Select(m => m.P99Ms)), Mean(last.Select(m => m.P99Ms))),
            ["rss_mb"] = services.ToDictionary(s => s, s => Pair(Mean(first.Select(m => m.RssMb.GetValueOrDefault(s, double.NaN))), Mean(last.Select(m => m.RssMb.GetValueOrDefault(s, double.NaN))))),
            ["db_mb"] = Pair(Mean(first.Select(m => m.Db?.SizeMb ?? double.NaN)), Mean(last.Select(m => m.Db?.SizeMb ?? double.NaN))),
            // Growth needs two minutes: a window of one (a run of two or three minutes) takes its neighbour.
            ["db_growth_mb_per_min"] = Pair(Growth(minutes.Take(Math.Max(2, k)).ToList()), Growth(minutes.TakeLast(Math.Max(2, k)).ToList())),
        };
    }

    private static void PrintDrift(Dictionary<string, object?> drift)
    {
        Console.WriteLine($"drift (mean of the first {drift["window_minutes"]} minutes -> the last {drift["window_minutes"]}):");
        static string Fmt(object pair)
        {
            var e = JsonSerializer.SerializeToElement(pair, new JsonSerializerOptions { NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals });
            var a = e.GetProperty("first").ToString();
            var b = e.GetProperty("last").ToString();
            var change = double.TryParse(a, CultureInfo.InvariantCulture, out var x) && double.TryParse(b, CultureInfo.InvariantCulture, out var y) && x != 0 && double.IsFinite(x) && double.IsFinite(y)
                ? $" ({(y - x) / x * 100:+0;-0;0} %)" : "";
            return $"{a} -> {b}{change}";
        }
        Console.WriteLine($"  p99 ms                    {Fmt(drift["p99_ms"]!)}");
        foreach (var (service, pair) in (Dictionary<string, object>)drift["rss_mb"]!)
            Console.WriteLine($"  RSS {service,-21} {Fmt(pair)}");
        Console.WriteLine($"  database MB               {Fmt(drift["db_mb"]!)}");
        Console.WriteLine($"  database growth MB/min    {Fmt(drift["db_growth_mb_per_min"]!)}");
    }

    /// <summary>Three panels over the soak's minutes: p50/p99, each service's peak RSS (with the 200 MB target), the database size and its largest tables.</summary>
    private static void Plot(List<Minute> minutes, Options o, string path)
    {
        ScottPlot.IMultiplot mp = new ScottPlot.Multiplot();
        ScottPlot.IMultiplotExtensions.AddPlots(mp, 3);
        var x = minutes.Select(m => (double)m.Index).ToArray();

        var latency = ScottPlot.IMultiplotExtensions.GetPlot(mp, 0);
        foreach (var (name, ys) in new[] { ("p50", minutes.Select(m => m.P50Ms)), ("p99", minutes.Select(m => m.P99Ms)) })
            latency.Add.Scatter(x, ys.ToArray()).LegendText = name;
        latency.Title($"Soak at {o.Rate.ToString(CultureInfo.InvariantCulture)} events/s via {o.Via}: latency per minute (sent -> signed webhook received)");
        latency.YLabel("latency (ms)");

        var rss = ScottPlot.IMultiplotExtensions.GetPlot(mp, 1);
        foreach (var service in minutes.SelectMany(m => m.RssMb.Keys).Distinct().Order(StringComparer.Ordinal))
            rss.Add.Scatter(x, minutes.Select(m => m.RssMb.GetValueOrDefault(service, double.NaN)).ToArray()).LegendText = service;
        rss.Add.HorizontalLine(200).LegendText = "200 MB target";
        rss.Title("Peak resident memory per service in each minute");
        rss.YLabel("RSS (MB)");

        var db = ScottPlot.IMultiplotExtensions.GetPlot(mp, 2);
        db.Add.Scatter(x, minutes.Select(m => m.Db?.SizeMb ?? double.NaN).ToArray()).LegendText = "database";
        var largest = minutes.LastOrDefault(m => m.Db is not null)?.Db!.LargestTablesMb.Take(3).Select(t => t.Key).ToList() ?? [];
        foreach (var table in largest)
            db.Add.Scatter(x, minutes.Select(m => m.Db?.LargestTablesMb.FirstOrDefault(t => t.Key == table).Value ?? double.NaN).ToArray()).LegendText = table;
        db.Title("Database size (pg_database_size) and its largest tables");
        db.YLabel("MB");
        db.XLabel("minutes since the end of the warm-up");

        foreach (var p in new[] { latency, rss, db })
        {
            p.ShowLegend(ScottPlot.Alignment.UpperLeft);
            p.Axes.SetLimitsX(0, Math.Max(1, x.LastOrDefault()) + 0.5);
        }
        latency.Axes.SetLimitsY(0, Math.Max(10, minutes.Select(m => m.P99Ms).Where(double.IsFinite).DefaultIfEmpty(10).Max() * 1.15));
        rss.Axes.SetLimitsY(0, Math.Max(250, minutes.SelectMany(m => m.RssMb.Values).DefaultIfEmpty(0).Max() * 1.15));
        db.Axes.SetLimitsY(0, Math.Max(10, minutes.Select(m => m.Db?.SizeMb ?? 0).DefaultIfEmpty(0).Max() * 1.15));
        ScottPlot.IMultiplotExtensions.SavePng(mp, path, 1400, 1200);
    }

    /// <summary>Every 10 s: each webhook's latest 500 deliveries and each automation's latest 100 runs, as a console user would.</summary>
    private static async Task<(int Pages, int Failed)> ReadHistoryAsync(Setup.Team team, CancellationToken ct)
    {
        int pages = 0, failed = 0;
        var root = $"/v1/entities/{team.Entity}";
        while (!ct.IsCancellationRequested)
        {
            try
            {
                var paths = new List<string>();
                using (var webhooks = JsonDocument.Parse(await team.Api.GetStringAsync($"{root}/webhooks", ct)))
                    paths.AddRange(webhooks.RootElement.EnumerateArray().Select(w => $"{root}/webhooks/{w.GetProperty("id").GetString()}/deliveries?limit=500"));
                using (var automations = JsonDocument.Parse(await team.Api.GetStringAsync($"{root}/projects/bench/automations", ct)))
                    paths.AddRange(automations.RootElement.EnumerateArray().Select(a => $"{root}/projects/bench/automations/{a.GetProperty("id").GetString()}/runs?limit=100"));
                foreach (var path in paths)
                {
                    using var answer = await team.Api.GetAsync(path, ct);
                    await answer.Content.CopyToAsync(Stream.Null, ct);
                    if (answer.IsSuccessStatusCode) pages++;
                    else failed++;
                }
                await Task.Delay(TimeSpan.FromSeconds(10), ct);
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex) when (ex is HttpRequestException or JsonException or InvalidOperationException or KeyNotFoundException)
            {
                failed++;
                await Task.Delay(TimeSpan.FromSeconds(10), ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            }
        }
        return (pages, failed);
    }

    private static async Task<HashSet<Guid>> RecordedIdsAsync(Options o, string entity)
    {
        await using var ds = NpgsqlDataSource.Create(o.Postgres);
        await using var c = await ds.OpenConnectionAsync();
        return (await c.QueryAsync<Guid>("select id from delivery.deliveries where entity = @entity and status = 'succeeded'", new { entity })).ToHashSet();
    }

    /// <summary>The database's and the broker's side of each minute, read from outside the system.</summary>
    private sealed class Probe(NpgsqlDataSource dataSource, string outboxSql, HttpClient management, string vhost) : IAsyncDisposable
    {
        // Partitions (once retention partitions a table) count toward their root table.
        private const string TablesSql = """
            select coalesce(pg_partition_root(c.oid), c.oid)::regclass::text as name, sum(pg_total_relation_size(c.oid))::float8 / 1048576 as mb
            from pg_class c join pg_namespace n on n.oid = c.relnamespace
            where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
            group by 1 order by 2 desc limit 5
            """;

        public static async Task<Probe> CreateAsync(Options o)
        {
            var ds = NpgsqlDataSource.Create(new NpgsqlConnectionStringBuilder(o.Postgres) { MaxPoolSize = 2, ApplicationName = "soak-probe" }.ConnectionString);
            await using var c = await ds.OpenConnectionAsync();
            var schemas = (await c.QueryAsync<string>("select table_schema from information_schema.tables where table_name = 'outbox' order by 1")).ToList();
            var outboxSql = schemas.Count == 0 ? "select '' as schema, 0::bigint as rows where false"
                : string.Join(" union all ", schemas.Select(s => $"select '{s}' as schema, count(*) as rows from \"{s}\".outbox"));
            var uri = new Uri(o.RabbitMqManagement);
            var http = new HttpClient { BaseAddress = new UriBuilder(uri) { UserName = "", Password = "" }.Uri, Timeout = TimeSpan.FromSeconds(5) };
            if (uri.UserInfo.Length > 0)
                http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(uri.UserInfo))));
            // The services' vhost: the AMQP URI's path, "/" when it has none.
            var path = new Uri(o.RabbitMq).AbsolutePath.TrimStart('/');
            return new Probe(ds, outboxSql, http, path.Length == 0 ? "/" : Uri.UnescapeDataString(path));
        }

        public async Task<Database?> SampleAsync()
        {
            try
            {
                await using var c = await dataSource.OpenConnectionAsync();
                var size = await c.ExecuteScalarAsync<long>("select pg_database_size(current_database())");
                var tables = (await c.QueryAsync<(string Name, double Mb)>(TablesSql)).Select(t => KeyValuePair.Create(t.Name, t.Mb)).ToList();
                var outbox = (await c.QueryAsync<(string Schema, long Rows)>(outboxSql)).ToDictionary(r => r.Schema, r => r.Rows);
                var pending = await c.ExecuteScalarAsync<long>("select count(*) from delivery.deliveries where status = 'pending'");
                return new Database(size / 1048576.0, tables, outbox, pending, await QueuesAsync());
            }
            catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
            {
                Console.WriteLine($"soak: database probe failed: {ex.GetType().Name}: {ex.Message}");
                return null;
            }
        }

        /// <summary>Messages waiting in each non-empty queue of the services' vhost (management API); null when it does not answer.</summary>
        private async Task<Dictionary<string, long>?> QueuesAsync()
        {
            try
            {
                using var doc = JsonDocument.Parse(await management.GetStringAsync($"api/queues/{Uri.EscapeDataString(vhost)}?columns=name,messages"));
                return doc.RootElement.EnumerateArray()
                    .Select(q => (Name: q.GetProperty("name").GetString() ?? "", Messages: q.TryGetProperty("messages", out var n) && n.ValueKind == JsonValueKind.Number ? n.GetInt64() : 0))
                    .Where(q => q.Messages > 0).ToDictionary(q => q.Name, q => q.Messages);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException)
            {
                return null;
            }
        }

        public async ValueTask DisposeAsync()
        {
            management.Dispose();
            await dataSource.DisposeAsync();
        }
    }
}
