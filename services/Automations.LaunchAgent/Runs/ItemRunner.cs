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
/// No failure to reach LaunchEnqueuer ends the runner: heartbeats are sent again at the next interval, and the outcome is
/// retried until LaunchEnqueuer answers it (or the agent is stopping and its grace is over), every loss logged as an error.
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
            JobEnvironment.Scrub(start.Environment, options.Value.Key);
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
            // The W3C trace of the event that queued this run: an OpenTelemetry-instrumented job continues it.
            if (!string.IsNullOrEmpty(item.Traceparent)) start.Environment["TRACEPARENT"] = item.Traceparent;

            process = Process.Start(start) ?? throw new InvalidOperationException("The process did not start.");
            pumps = Task.WhenAll(
                PumpAsync(process.StandardOutput.BaseStream, Path.Combine(dir, "stdout.log")),
                PumpAsync(process.StandardError.BaseStream, Path.Combine(dir, "stderr.log")));
        }
        catch (Exception ex) when (ex is Win32Exception or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            logger.LogWarning("Item {QueueItemId}: could not start {Command}: {Error}", item.Id, item.Command, ex.Message);
            var reason = $"Could not start '{item.Command}': {ex.Message}";
            await ReportOutcomeAsync(item, "failed (the command could not start)", ct => api.FailedAsync(item, reason, ct), kill);
            return;
        }

        using (process)
        {
            logger.LogInformation("Item {QueueItemId}: started {Command} (job {JobId} v{JobVersion}), pid {Pid}", item.Id, item.Command, item.JobId, item.JobVersion, process.Id);
            // "running" also extends the lease: until LaunchEnqueuer has acknowledged it, it is sent in place of the heartbeat.
            var running = await TryRenewAsync(item, running: true);
            if (running == ReportResult.LeaseLost)
            {
                logger.LogWarning("Item {QueueItemId}: lease lost before the run was acknowledged (it went back to the queue); killing the process", item.Id);
                Kill(process);
                return;
            }
            var acknowledged = running == ReportResult.Ok;

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
                    await ReleaseAsync(item);
                    return;
                }
                var renewed = await TryRenewAsync(item, running: !acknowledged);
                if (renewed == ReportResult.LeaseLost)
                {
                    logger.LogWarning("Item {QueueItemId}: lease lost (it went back to the queue); killing the process", item.Id);
                    Kill(process);
                    return;
                }
                acknowledged |= renewed == ReportResult.Ok;
            }

            await exited;
            await pumps;
            var exitCode = process.ExitCode;
            logger.LogInformation("Item {QueueItemId}: process exited with code {ExitCode}", item.Id, exitCode);
            await ReportOutcomeAsync(item, $"finished with exit code {exitCode}", ct => api.FinishedAsync(item, exitCode, ct), kill);
        }
    }

    /// <summary>One heartbeat (or running report); a failure is logged and the next interval tries again.</summary>
    /// <returns>null when LaunchEnqueuer could not be reached or refused the call for another reason than the lease.</returns>
    private async Task<ReportResult?> TryRenewAsync(ClaimedItem item, bool running)
    {
        var what = running ? "running" : "heartbeat";
        try
        {
            return running ? await api.RunningAsync(item, CancellationToken.None) : await api.HeartbeatAsync(item, CancellationToken.None);
        }
        catch (Exception ex) when (LaunchApiClient.IsTransient(ex, CancellationToken.None))
        {
            logger.LogWarning("Item {QueueItemId}: reporting {What} failed ({Error}: {Message}); trying again in {Interval} s",
                item.Id, what, ex.GetType().Name, ex.Message, options.Value.HeartbeatSeconds);
            return null;
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "Item {QueueItemId}: LaunchEnqueuer refused {What}: {Message}; trying again in {Interval} s",
                item.Id, what, ex.Message, options.Value.HeartbeatSeconds);
            return null;
        }
    }

    /// <summary>
    /// Reports how the run ended, retrying (LaunchApiClient) until LaunchEnqueuer answers. Whatever keeps the outcome
    /// from being recorded is logged as an error: the lease was lost (the run may be repeated elsewhere), the report was
    /// refused, or the agent is stopping (<paramref name="giveUp"/>: shutdown grace over) while LaunchEnqueuer is unreachable.
    /// </summary>
    private async Task ReportOutcomeAsync(ClaimedItem item, string outcome, Func<CancellationToken, Task<ReportResult>> report, CancellationToken giveUp)
    {
        // Grace already over (the process ended just as it ran out): still one call's worth of tries, not none.
        using var stop = giveUp.IsCancellationRequested
            ? new CancellationTokenSource(TimeSpan.FromSeconds(options.Value.ReportTimeoutSeconds))
            : CancellationTokenSource.CreateLinkedTokenSource(giveUp);
        try
        {
            if (await report(stop.Token) == ReportResult.Ok)
            {
                logger.LogInformation("Item {QueueItemId}: reported {Outcome}", item.Id, outcome);
                return;
            }
            logger.LogError(
                "Item {QueueItemId}: outcome NOT recorded ({Outcome}): LaunchEnqueuer answered that lease {LeaseId} no longer holds the item " +
                "(it expired while LaunchEnqueuer could not be reached, and the item went back to its queue or failed). The run may be repeated.",
                item.Id, outcome, item.LeaseId);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            logger.LogError(
                "Item {QueueItemId}: outcome NOT recorded ({Outcome}): the agent is stopping and LaunchEnqueuer could still not be reached. " +
                "Its lease will expire and the item go back to its queue.", item.Id, outcome);
        }
        catch (Exception ex)
        {
            logger.LogError(ex,
                "Item {QueueItemId}: outcome NOT recorded ({Outcome}): LaunchEnqueuer refused it ({Message}). Its lease will expire and the item go back to its queue.",
                item.Id, outcome, ex.Message);
        }
    }

    private async Task ReleaseAsync(ClaimedItem item)
    {
        try
        {
            if (await api.ReleaseAsync(item, CancellationToken.None) == ReportResult.LeaseLost)
                logger.LogWarning("Item {QueueItemId}: hand-back refused, the lease was already lost", item.Id);
        }
        catch (Exception ex)
        {
            logger.LogError("Item {QueueItemId}: hand-back failed ({Error}: {Message}); the lease will expire and the item go back to its queue",
                item.Id, ex.GetType().Name, ex.Message);
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
