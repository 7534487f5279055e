using System.Globalization;

namespace Automations.Benchmarks;

/// <summary>
/// CPU time from /proc between two snapshots, per process group and for the whole machine, turned into milliseconds of
/// CPU per delivered event. The groups are those of deploy/local/cpu-by-component.py: each service by its pid file,
/// PostgreSQL (every process named postgres: the postmaster, its backends and workers), RabbitMQ (beam.smp) and this
/// benchmark process (the load, the receiver and, in the floor, the floor's own work).
/// </summary>
public static class CpuMeter
{
    /// <summary>Cumulative CPU ticks (USER_HZ) per group, and the machine's busy ticks, at one moment.</summary>
    public sealed record Snapshot(DateTime At, long MachineBusyTicks, Dictionary<string, long> Ticks, Dictionary<string, int> ServicePids);

    private const double TicksPerSecond = 100; // USER_HZ on Linux
    public const string Machine = "machine";
    public const string Processes = "processes";
    public const string Self = "benchmark";

    public static Snapshot Take(IReadOnlyDictionary<string, int> servicePids)
    {
        var ticks = new Dictionary<string, long> { ["postgres"] = 0, ["rabbitmq"] = 0 };
        foreach (var (name, pid) in servicePids)
            if (ProcessTicks(pid) is { } t) ticks[name] = t;
        ticks[Self] = ProcessTicks(Environment.ProcessId) ?? 0;
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            string comm;
            try { comm = File.ReadAllText($"/proc/{pid}/comm").Trim(); }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { continue; }
            var group = comm switch { "postgres" => "postgres", "beam.smp" => "rabbitmq", _ => null };
            if (group is not null && ProcessTicks(pid) is { } t) ticks[group] += t;
        }
        return new Snapshot(DateTime.UtcNow, MachineBusyTicks(), ticks, new(servicePids));
    }

    /// <summary>
    /// Milliseconds of CPU per event between two snapshots for each group, their sum (<see cref="Processes"/>) and the
    /// whole machine (<see cref="Machine"/>, everything that ran, other work on the machine included). A service whose
    /// pid changed in between (a drill restarted it) is left out. PostgreSQL backends that exited in between take their
    /// ticks with them: short-lived connections are undercounted.
    /// </summary>
    public static Dictionary<string, double> MsPerEvent(Snapshot from, Snapshot to, double events)
    {
        var result = new Dictionary<string, double>();
        if (events <= 0) return result;
        double Ms(long ticks) => Math.Round(ticks * 1000 / TicksPerSecond / events, 3);
        long sum = 0;
        foreach (var (name, after) in to.Ticks)
        {
            if (!from.Ticks.TryGetValue(name, out var before)) continue;
            if (from.ServicePids.TryGetValue(name, out var pid) && to.ServicePids.GetValueOrDefault(name) != pid) continue;
            var delta = Math.Max(0, after - before);
            sum += delta;
            result[name] = Ms(delta);
        }
        result[Processes] = Ms(sum);
        result[Machine] = Ms(to.MachineBusyTicks - from.MachineBusyTicks);
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
    }
}
