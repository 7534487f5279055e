namespace Automations.LaunchEnqueuer;

/// <summary>Configuration section "Launch".</summary>
public sealed class LaunchOptions
{
    /// <summary>How long a claim or heartbeat holds an item.</summary>
    public int LeaseSeconds { get; set; } = 60;
    /// <summary>Claims an item may have (a lease that expires counts as one); the next expiry fails the run.</summary>
    public int MaxClaims { get; set; } = 3;
    /// <summary>How often expired leases are looked for.</summary>
    public double SweepIntervalSeconds { get; set; } = 5;
    /// <summary>Upper bound of a claim's long-poll (?wait=).</summary>
    public int MaxWaitSeconds { get; set; } = 30;
    /// <summary>A waiting claim looks at the table at least this often, even without a notification.</summary>
    public int PollIntervalMilliseconds { get; set; } = 1000;

    public TimeSpan Lease => TimeSpan.FromSeconds(LeaseSeconds);
}
