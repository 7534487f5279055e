using System.Globalization;
using Npgsql;

namespace Automations.Benchmarks;

/// <summary>
/// CPU time from /proc between two snapshots, per process group and for the whole machine, turned into milliseconds of
/// CPU per delivered event. The groups are those of deploy/local/cpu-by-component.py: each service by its pid file,
/// PostgreSQL (every process named postgres: the postmaster, its backends and workers), RabbitMQ (beam.smp) and this
/// benchmark process (the load, the receiver and, in the floor, the floor's own work). Each snapshot also takes the
/// server's WAL position: the WAL written per event is what sets how often PostgreSQL starts a new segment file.
/// </summary>
public static class CpuMeter
{
    /// <summary>
    /// Cumulative CPU ticks (USER_HZ) of each process counted, by pid with its group, the machine's busy ticks and the
    /// server's WAL position (<c>pg_current_wal_lsn()</c>, null when it could not be read), at one moment.
    /// </summary>
    public sealed record Snapshot(DateTime At, long MachineBusyTicks, Dictionary<int, (string Group, long Ticks)> Processes, ulong? WalLsn);

    private const double TicksPerSecond = 100; // USER_HZ on Linux
    public const string Machine = "machine";
    public const string Processes = "processes";
    public const string Self = "benchmark";

    /// <param name="servicePids">The services (<see cref="Services.Pids"/>), by name.</param>
    /// <param name="postgres">
    /// The run's connection string. PostgreSQL's client backends connected to another database (other work on a shared
    /// server) are left out; the server's own processes (postmaster, WAL writer, checkpointer, autovacuum) are counted.
    /// </param>
    public static Snapshot Take(IReadOnlyDictionary<string, int> servicePids, string postgres)
    {
        var database = new NpgsqlConnectionStringBuilder(postgres).Database;
        var processes = new Dictionary<int, (string, long)>();
        foreach (var (name, pid) in servicePids)
            if (ProcessTicks(pid) is { } t) processes[pid] = (name, t);
        processes[Environment.ProcessId] = (Self, ProcessTicks(Environment.ProcessId) ?? 0);
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || processes.ContainsKey(pid)) continue;
            try
            {
                var group = File.ReadAllText($"/proc/{pid}/comm").Trim() switch
                {
                    "postgres" when OtherDatabase(File.ReadAllText($"/proc/{pid}/cmdline"), database) => null,
                    "postgres" => "postgres",
                    "beam.smp" => "rabbitmq",
                    _ => null,
                };
                if (group is not null && ProcessTicks(pid) is { } t) processes[pid] = (group, t);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        }
        return new Snapshot(DateTime.UtcNow, MachineBusyTicks(), processes, WalLsn(postgres));
    }

    /// <summary>Bytes of WAL the server wrote per event between two snapshots (all of its databases); NaN when unknown.</summary>
    public static double WalBytesPerEvent(Snapshot from, Snapshot to, double events) =>
        from.WalLsn is { } a && to.WalLsn is { } b && events > 0 ? Math.Round((b - a) / events, 0) : double.NaN;

    private static ulong? WalLsn(string postgres)
    {
        try
        {
            using var connection = new NpgsqlConnection(postgres);
            connection.Open();
            using var command = new NpgsqlCommand("select pg_current_wal_lsn()", connection);
            return (ulong)(NpgsqlTypes.NpgsqlLogSequenceNumber)command.ExecuteScalar()!;
        }
        catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>A client backend's title is "postgres: CLUSTER: USER DATABASE HOST(PORT) STATE" (or [local] for a socket).</summary>
    private static bool OtherDatabase(string cmdline, string? database)
    {
        if (database is null || !cmdline.StartsWith("postgres: ", StringComparison.Ordinal)) return false;
        var words = cmdline.TrimEnd('\0', ' ').Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var at = Array.FindIndex(words, 1, w => w.EndsWith(':')); // the cluster name, when the title carries one
        var rest = words.Skip(at < 0 ? 1 : at + 1).ToArray();
        var isClient = rest.Length >= 3 && (rest[2].Contains('(', StringComparison.Ordinal) || rest[2] == "[local]");
        return isClient && rest[1] != database;
    }

    /// <summary>
    /// Milliseconds of CPU per event between two snapshots for each group, their sum (<see cref="Processes"/>) and the
    /// whole machine (<see cref="Machine"/>, everything that ran, other work on the machine included; NaN when /proc/stat
    /// saw less than the processes did, see below). A process that
    /// started in between counts from zero; one that exited in between (a service a drill killed, a closed database
    /// connection) is not counted.
    /// </summary>
    public static Dictionary<string, double> MsPerEvent(Snapshot from, Snapshot to, double events)
    {
        var result = new Dictionary<string, double>();
        if (events <= 0) return result;
        double Ms(long ticks) => Math.Round(ticks * 1000 / TicksPerSecond / events, 3);
        var byGroup = new Dictionary<string, long> { ["postgres"] = 0, ["rabbitmq"] = 0 };
        foreach (var (pid, (group, after)) in to.Processes)
        {
            var before = from.Processes.TryGetValue(pid, out var b) && b.Group == group ? b.Ticks : 0;
            byGroup[group] = byGroup.GetValueOrDefault(group) + Math.Max(0, after - before);
        }
        foreach (var (group, ticks) in byGroup) result[group] = Ms(ticks);
        var processes = byGroup.Values.Sum();
        result[Processes] = Ms(processes);
        // /proc/stat counts a core busy only when a timer tick finds it busy, and a tickless kernel stops the tick while a
        // core idles: work in bursts shorter than a tick (a low, steady rate) goes unseen there, while each process's own
        // time is exact. Less busy time for the machine than for the processes in it is that undercount: not a figure.
        var machine = to.MachineBusyTicks - from.MachineBusyTicks;
        result[Machine] = machine >= processes ? Ms(machine) : double.NaN;
        return result;
    }

    /// <summary>Percent of one core each group used between two snapshots (the same ticks, per second of the window).</summary>
    public static double PercentOfOneCore(Snapshot from, Snapshot to, double msPerEvent, double events) =>
        Math.Round(msPerEvent * events / Math.Max(1, (to.At - from.At).TotalMilliseconds) * 100, 1);

    /// <summary>utime + stime of a process, in ticks; null when it is gone.</summary>
    private static long? ProcessTicks(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return null;
        }
    }

    /// <summary>
    /// The machine's busy ticks from the first line of /proc/stat: user, nice, system, irq and softirq (guest time is
    /// inside user; idle, iowait and steal are not work done here).
    /// </summary>
    private static long MachineBusyTicks()
    {
        var cpu = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        long F(int i) => long.Parse(cpu[i], CultureInfo.InvariantCulture);
        return F(1) + F(2) + F(3) + F(6) + F(7);
    }

    /// <summary>The table printed after a run: each group's CPU per event and its share of one core.</summary>
    public static void PrintTable(string title, Snapshot from, Snapshot to, Dictionary<string, double> msPerEvent, double events)
    {
        Console.WriteLine();
        Console.WriteLine($"{title}: CPU per delivered event over {(to.At - from.At).TotalSeconds:F0} s, {events:F0} events");
        Console.WriteLine($"{"process",-20} {"ms/event",10} {"% of a core",12}");
        foreach (var (name, ms) in msPerEvent.OrderBy(kv => kv.Key is Processes or Machine ? 1 : 0).ThenByDescending(kv => kv.Value))
            Console.WriteLine($"{name,-20} {ms,10:F3} {PercentOfOneCore(from, to, ms, events),12:F1}");
        Console.WriteLine($"WAL per event: {WalBytesPerEvent(from, to, events):F0} bytes (the whole server)");
    }
}
