namespace Automations.Rules;

/// <summary>Configuration section "Rules".</summary>
public sealed class RulesOptions
{
    /// <summary>How long a project's automations stay cached without an AutomationsChanged (a safety net for a lost one).</summary>
    public TimeSpan CacheTtl { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// At most this many (entity, project) entries stay cached (and as many entities' team automations): events naming
    /// ever new projects cannot grow the cache without bound.
    /// </summary>
    public int CacheMaxEntries { get; set; } = 10_000;

    /// <summary>Match timeout of one alias, tag or project regex against one value: a pathological pattern cannot stall the consumer.</summary>
    public TimeSpan RegexTimeout { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Names this replica's AutomationsChanged endpoint; by default the machine name and a random suffix.</summary>
    public string InstanceId { get; set; } = $"{Environment.MachineName}-{Guid.NewGuid().ToString("N")[..8]}";

    /// <summary>
    /// The W&amp;B (or other) base URL of run pages: <c>${run_url}</c> is <c>{RunUrlBase}/{entity}/{project}/runs/{run_id}</c>;
    /// empty when unset.
    /// </summary>
    public string? RunUrlBase { get; set; }

    /// <summary>
    /// How long a run's state (its last state, its metric windows) is kept after its last event: a run silent for longer
    /// starts afresh (its next state is entered, its windows fill again).
    /// </summary>
    public TimeSpan RunStateRetention { get; set; } = TimeSpan.FromDays(30);

    /// <summary>
    /// At most this many events of <c>ArtifactEventsReceived</c> batches are handled at once in this process, the rest of
    /// a batch waiting: the prefetch of 32 messages would otherwise put up to 32 × 100 events' work (rendered payloads,
    /// run rows, statements) in memory at once where 32 single messages put 32. Enough to keep the group commit's writers
    /// busy (at most 64 statements a commit).
    /// </summary>
    public int MaxBatchedEventsAtOnce { get; set; } = 64;
}
