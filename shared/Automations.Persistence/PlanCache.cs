namespace Automations.Persistence;

/// <summary>
/// Statements planned once per connection. PostgreSQL plans a prepared statement anew on every run while its plan for
/// the run's values (a custom plan) looks cheaper than the one for any values (the generic plan). A statement on a
/// partitioned table that names the partition key always looks so: its custom plan names one partition, while the
/// generic one prunes the others only when it runs. Planning it across every partition the retention keeps then costs
/// more than running it. The statements given this are point writes and claims whose best plan does not depend on
/// their values.
/// </summary>
public static class PlanCache
{
    /// <summary>For a connection the caller keeps to itself (the group commit's writers); reset before it goes back to the pool.</summary>
    public const string Generic = "set plan_cache_mode = force_generic_plan";

    public const string Reset = "reset plan_cache_mode";

    /// <summary>For the rest of the caller's transaction only.</summary>
    public const string GenericInTransaction = "set local plan_cache_mode = force_generic_plan";
}
