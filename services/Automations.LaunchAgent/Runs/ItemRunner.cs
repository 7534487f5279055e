using System.ComponentModel;
using System.Diagnostics;
using System.Text.Json;
using Automations.LaunchAgent.Api;
using Microsoft.Extensions.Options;

namespace Automations.LaunchAgent.Runs;

/// <summary>
/// Runs one claimed item as a local process (no shell): the job version's command and arguments, in its own folder,
/// with the run config in a JSON file named by AUTOMATIONS_RUN_CONFIG. Heartbeats while the process runs and reports
/// its exit code. When <c>kill</c> fires (shutdown grace over) the process is killed and the item handed back.
/// </summary>
public sealed class ItemRunner(LaunchApiClient api, IOptions<AgentOptions> options, ILogger<ItemRunner> logger)
{
    public async Task RunAsync(ClaimedItem item, CancellationToken kill)
    {
        using var scope = logger.BeginScope(new Dictionary<string, object> { ["QueueItemId"] = item.Id, ["RunId"] = item.RunId });
        Process process;
        Task pumps;
        try
        {
            var dir = Path.Combine(options.Value.ResolvedWorkDir, item.Id.ToString());
            Directory.CreateDirectory(dir);
            var configPath = Path.Combine(dir, "run-config.json");
            var eventPath = Path.Combine(dir, "event.json");
            await File.WriteAllTextAsync(configPath, item.Config.GetRawText(), CancellationToken.None);
            await File.WriteAllTextAsync(eventPath, item.Event.GetRawText(), CancellationToken.None);

            var start = new ProcessStartInfo(item.Command)
            {
                UseShellExecute = false,
                WorkingDirectory = dir,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            if (item.Args.ValueKind == JsonValueKind.Array)
                foreach (var arg in item.Args.EnumerateArray())
                    start.ArgumentList.Add(arg.ValueKind == JsonValueKind.String ? arg.GetString()! : arg.GetRawText());
            start.Environment["AUTOMATIONS_RUN_CONFIG"] = configPath;
            start.Environment["AUTOMATIONS_EVENT"] = eventPath;
            start.Environment["AUTOMATIONS_TARGET_PROJECT"] = item.TargetProject ?? item.Project;
            start.Environment["AUTOMATIONS_QUEUE_ITEM_ID"] = item.Id.ToString();
            start.Environment["AUTOMATIONS_RUN_ID"] = item.RunId.ToString();
            start.Environment["AUTOMATIONS_ENTITY"] = item.Entity;
            start.Environment["AUTOMATIONS_PROJECT"] = item.Project;

            process = Process.Start(start) ?? throw new InvalidOperationException("The process did not start.");
            pumps = Task.WhenAll(
                PumpAsync(process.StandardOutput.BaseStream, Path.Combine(dir, "stdout.log")),
                PumpAsync(process.StandardError.BaseStream, Path.Combine(dir, "stderr.log")));
        }
        catch (Exception ex) when (ex is Win32Exception or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Item {QueueItemId}: could not start {Command}: {Error}", item.Id, item.Command, ex.Message);
            await TryReportAsync(() => api.FailedAsync(item, $"Could not start '{item.Command}': {ex.Message}", CancellationToken.None), item, "failed");
            return;
        }

        using (process)
        {
            logger.LogInformation("Item {QueueItemId}: started {Command} (job {JobId} v{JobVersion}), pid {Pid}", item.Id, item.Command, item.JobId, item.JobVersion, process.Id);
            if (await TryReportAsync(() => api.RunningAsync(item, CancellationToken.None), item, "running") == ReportResult.LeaseLost)
            {
                Kill(process);
                return;
            }

            var exited = process.WaitForExitAsync(CancellationToken.None);
            var every = TimeSpan.FromSeconds(options.Value.HeartbeatSeconds);
            var killed = Task.Delay(Timeout.Infinite, kill);
            while (!exited.IsCompleted)
            {
                var first = await Task.WhenAny(exited, Task.Delay(every, CancellationToken.None), killed);
                if (first == exited) break;
                if (first == killed)
                {
                    logger.LogWarning("Item {QueueItemId}: shutdown grace over; killing the process and handing the item back", item.Id);
                    Kill(process);
                    await exited;
                    await TryReportAsync(() => api.ReleaseAsync(item, CancellationToken.None), item, "release");
                    return;
                }
                if (await TryReportAsync(() => api.HeartbeatAsync(item, CancellationToken.None), item, "heartbeat") == ReportResult.LeaseLost)
                {
                    logger.LogWarning("Item {QueueItemId}: lease lost (it went back to the queue); killing the process", item.Id);
                    Kill(process);
                    return;
                }
            }

            await exited;
            await pumps;
            var exitCode = process.ExitCode;
            logger.LogInformation("Item {QueueItemId}: process exited with code {ExitCode}", item.Id, exitCode);
            await TryReportAsync(() => api.FinishedAsync(item, exitCode, CancellationToken.None), item, "finished");
        }
    }

    /// <returns>null when the report could not be made at all (the lease will expire and the item be retried).</returns>
    private async Task<ReportResult?> TryReportAsync(Func<Task<ReportResult>> report, ClaimedItem item, string what)
    {
        try
        {
            return await report();
        }
        catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
        {
            logger.LogWarning("Item {QueueItemId}: reporting {What} failed: {Error}", item.Id, what, ex.Message);
            return null;
        }
    }

    private static async Task PumpAsync(Stream from, string path)
    {
        await using var to = File.Create(path);
        await from.CopyToAsync(to);
    }

    private static void Kill(Process process)
    {
        try { process.Kill(entireProcessTree: true); }
        catch (InvalidOperationException) { } // already exited
    }
}
