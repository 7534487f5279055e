using System.Diagnostics;
using System.Globalization;

namespace Automations.Benchmarks;

/// <summary>The services started by deploy/local/up.sh (.run/pids): resident memory and CPU, kill and restart.</summary>
public sealed class Services(string runDir)
{
    public sealed record Sample(string Name, double RssMb, double CpuPercent);

    private readonly Dictionary<string, (int Pid, double CpuSeconds, DateTime At)> _last = [];
    private readonly Lock _lock = new();
    private readonly Dictionary<string, double> _windowPeakRssMb = [];
    private readonly Dictionary<string, double> _rssMb = [];
    private readonly Dictionary<string, double> _anonMb = [];
    public Dictionary<string, double> PeakRssMb { get; } = [];
    public Dictionary<string, List<double>> Cpu { get; } = [];

    /// <summary>The largest resident set of each service since the last call (the soak's per-minute figure), and resets it.</summary>
    public Dictionary<string, double> TakeWindowPeakRssMb()
    {
        lock (_lock)
        {
            var peak = new Dictionary<string, double>(_windowPeakRssMb);
            _windowPeakRssMb.Clear();
            return peak;
        }
    }

    /// <summary>
    /// The latest sample of each service: its resident set, and the anonymous part of it (RssAnon: the GC heap, native
    /// allocations, stacks), which is the process's own; the rest is mapped files (assemblies, ReadyToRun code), shared and
    /// reclaimable by the kernel.
    /// </summary>
    public (Dictionary<string, double> RssMb, Dictionary<string, double> AnonMb) Current()
    {
        lock (_lock) return (new(_rssMb), new(_anonMb));
    }

    public Dictionary<string, double> PeakRssSnapshot()
    {
        lock (_lock) return new(PeakRssMb);
    }

    public IReadOnlyDictionary<string, int> Pids()
    {
        var result = new Dictionary<string, int>();
        var dir = Path.Combine(runDir, "pids");
        if (!Directory.Exists(dir)) return result;
        foreach (var file in Directory.GetFiles(dir, "*.pid"))
            if (int.TryParse(File.ReadAllText(file).Trim(), out var pid) && Directory.Exists($"/proc/{pid}"))
                result[Path.GetFileNameWithoutExtension(file).Replace("Automations.", "", StringComparison.Ordinal)] = pid;
        return result;
    }

    public void SampleOnce()
    {
        var ticks = 100.0; // USER_HZ on Linux
        foreach (var (name, pid) in Pids())
        {
            try
            {
                var status = File.ReadAllLines($"/proc/{pid}/status");
                double Mb(string field) => double.Parse(status.First(l => l.StartsWith(field, StringComparison.Ordinal))
                    .Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
                var rss = Mb("VmRSS:");
                var anon = Mb("RssAnon:");
                lock (_lock)
                {
                    PeakRssMb[name] = Math.Max(PeakRssMb.GetValueOrDefault(name), rss);
                    _windowPeakRssMb[name] = Math.Max(_windowPeakRssMb.GetValueOrDefault(name), rss);
                    _rssMb[name] = rss;
                    _anonMb[name] = anon;
                }
                var stat = File.ReadAllText($"/proc/{pid}/stat");
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var cpuSeconds = (double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture)) / ticks;
                var now = DateTime.UtcNow;
                // A restarted process (the kill drill) starts its own count: no sample across the restart.
                if (_last.TryGetValue(name, out var last) && last.Pid == pid && now > last.At)
                {
                    if (!Cpu.TryGetValue(name, out var list)) Cpu[name] = list = [];
                    list.Add(100 * (cpuSeconds - last.CpuSeconds) / (now - last.At).TotalSeconds);
                }
                _last[name] = (pid, cpuSeconds, now);
            }
            catch (Exception ex) when (ex is IOException or InvalidOperationException or FormatException or UnauthorizedAccessException)
            {
                // A process that was just killed (a drill) has a /proc entry without these lines: skip it this second.
            }
        }
    }

    public void ResetCpu()
    {
        lock (_lock)
        {
            Cpu.Clear();
            PeakRssMb.Clear();
        }
    }

    /// <summary>The pid of a running service from its pid file; throws when the file is missing or the process is not running.</summary>
    public int PidOf(string name)
    {
        var file = Path.Combine(runDir, "pids", $"Automations.{name}.pid");
        if (!File.Exists(file)) throw new InvalidOperationException($"{name}: no pid file {file} (is the system running? ./deploy/local/up.sh)");
        if (!int.TryParse(File.ReadAllText(file).Trim(), out var pid)) throw new InvalidOperationException($"{name}: {file} holds no pid");
        if (!IsRunning(pid)) throw new InvalidOperationException($"{name}: pid {pid} from {file} is not running");
        return pid;
    }

    /// <summary>Whether the process exists and is not a zombie (killed, not yet reaped by its parent).</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[0] != "Z";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>SIGKILL a service, wait until it is gone, and start it again with the same command line, directory and environment; returns the new pid.</summary>
    public async Task<int> KillAndRestartAsync(string name, TimeSpan down)
    {
        var pid = PidOf(name);
        var cmdline = File.ReadAllText($"/proc/{pid}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
        var cwd = new DirectoryInfo($"/proc/{pid}/cwd").ResolveLinkTarget(true)?.FullName ?? Directory.GetCurrentDirectory();
        var environ = File.ReadAllText($"/proc/{pid}/environ").Split('\0', StringSplitOptions.RemoveEmptyEntries)
            .Select(e => e.Split('=', 2)).Where(p => p.Length == 2).ToDictionary(p => p[0], p => p[1]);
        Process.GetProcessById(pid).Kill();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (IsRunning(pid))
        {
            if (DateTime.UtcNow > deadline) throw new InvalidOperationException($"{name}: pid {pid} still runs 10 s after SIGKILL");
            await Task.Delay(50);
        }
        await Task.Delay(down);
        var psi = new ProcessStartInfo("bash", ["-c", "exec \"$@\" >>\"$LOGFILE\" 2>&1 </dev/null", "--", .. cmdline]) { WorkingDirectory = cwd, UseShellExecute = false };
        psi.Environment.Clear();
        foreach (var (k, v) in environ) psi.Environment[k] = v;
        psi.Environment["LOGFILE"] = Path.Combine(runDir, "logs", $"Automations.{name}.log");
        var p = Process.Start(psi)!;
        await File.WriteAllTextAsync(Path.Combine(runDir, "pids", $"Automations.{name}.pid"), p.Id.ToString(CultureInfo.InvariantCulture));
        return p.Id;
    }

    /// <summary>Waits until the service answers /health/ready at the address its command line names (--urls); false at the deadline.</summary>
    public async Task<bool> WaitReadyAsync(string name, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        // A process just started may not have exec'd yet (its command line is still its parent's for a moment): read it
        // again until --urls shows, within the same deadline.
        string[] args;
        int at;
        while ((at = Array.IndexOf(args = File.ReadAllText($"/proc/{PidOf(name)}/cmdline").Split('\0'), "--urls")) < 0 || at + 1 >= args.Length)
        {
            if (DateTime.UtcNow > deadline) throw new InvalidOperationException($"{name}: no --urls on its command line to check its readiness");
            await Task.Delay(50);
        }
        using var http = new HttpClient { BaseAddress = new Uri(args[at + 1].Split(';')[0]), Timeout = TimeSpan.FromSeconds(2) };
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                using var response = await http.GetAsync("/health/ready");
                if (response.IsSuccessStatusCode) return true;
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException) { }
            await Task.Delay(200);
        }
        return false;
    }
}
