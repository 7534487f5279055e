namespace Automations.LaunchAgent;

/// <summary>Configuration section "Agent".</summary>
public sealed class AgentOptions
{
    /// <summary>Base URL of LaunchEnqueuer.</summary>
    public string Api { get; set; } = "http://127.0.0.1:5084";
    /// <summary>An API key with the queues:agent scope.</summary>
    public string Key { get; set; } = "";
    /// <summary>Queue ids to claim from, in turn.</summary>
    public List<Guid> Queues { get; set; } = [];
    /// <summary>How many items run at the same time.</summary>
    public int Concurrency { get; set; } = 1;
    /// <summary>Each item runs in its own folder WorkDir/&lt;item id&gt;. Empty: a folder under the system temp directory.</summary>
    public string WorkDir { get; set; } = "";
    /// <summary>Long-poll of one claim request.</summary>
    public int WaitSeconds { get; set; } = 20;
    public double HeartbeatSeconds { get; set; } = 10;
    /// <summary>On SIGTERM: how long running processes may go on before they are killed and their items handed back.</summary>
    public double ShutdownGraceSeconds { get; set; } = 30;
    /// <summary>
    /// How long a hand-back (release, at shutdown) is retried while LaunchEnqueuer cannot be reached. An outcome (finished,
    /// failed) is retried until LaunchEnqueuer answers it; heartbeat and running are sent again at the next interval.
    /// </summary>
    public double ReportRetrySeconds { get; set; } = 60;
    /// <summary>How long one report call (heartbeat, running, finished, failed, release) may take before it counts as failed.</summary>
    public double ReportTimeoutSeconds { get; set; } = 10;
    /// <summary>A name for this agent, shown as the item's claimer. Default: the machine name and process id.</summary>
    public string Name { get; set; } = $"{Environment.MachineName}/{Environment.ProcessId}";

    public string ResolvedWorkDir => string.IsNullOrWhiteSpace(WorkDir) ? Path.Combine(Path.GetTempPath(), "automations-agent") : WorkDir;
}
