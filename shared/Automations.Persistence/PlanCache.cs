namespace Automations.Persistence;

/// <summary>
/// Statements planned once per connection. PostgreSQL plans a prepared statement anew on every run while its plan for
/// the run's values (a custom plan) looks cheaper than the one for any values (the generic plan). A statement on a
/// partitioned table that names the partition key always looks so: its custom plan names one partition, while the
/// generic one prunes the others only when it runs. Planning it across every partition the retention keeps then costs
/// more than running it. The statements given this are point writes and claims whose best plan does not depend on
/// their values.
/// <para>
/// A plan made once is made for the tables as they are then. A partition is created empty ahead of its day and has no
/// statistics until autovacuum first analyzes it; planned then, an update that finds its rows by id (the outcomes'
/// <c>update rules.runs ... from unnest(...)</c>) reads the whole partition for every batch, and keeps doing so until an
/// analyze invalidates the plan. The group commit's writers therefore plan without sequential scans wherever an index
/// serves (a table without one is still scanned): every statement they run is a write by key.
/// </para>
/// <para>
/// They also run without JIT compilation. PostgreSQL compiles a plan whose estimated cost passes <c>jit_above_cost</c>,
/// and it compiles again on every run: nothing of it is kept with the plan. A scan that <c>enable_seqscan = off</c> could
/// not avoid (a partition without the index) is costed at 10^10 and so passes every JIT threshold: a write by key that
/// takes 0.1 ms took 150–400 ms, compiling. A write by key never gains from compiling.
/// </para>
/// </summary>
public static class PlanCache
{
    /// <summary>For a connection the caller keeps to itself (the group commit's writers); reset before it goes back to the pool.</summary>
    public const string Generic = "set plan_cache_mode = force_generic_plan; set enable_seqscan = off; set jit = off";

    public const string Reset = "reset plan_cache_mode; reset enable_seqscan; reset jit";

    /// <summary>For the rest of the caller's transaction only.</summary>
    public const string GenericInTransaction = "set local plan_cache_mode = force_generic_plan";
}
