using System.Text.Json;
using System.Text.Json.Serialization;
using Automations.Contracts;
using Automations.Persistence.Writes;
using Dapper;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.LaunchEnqueuer.Agent;

public enum LeaseOutcome { Ok, NotFound, LeaseLost, AlreadyEnded }

/// <summary>
/// What an agent gets when it claims an item: everything it needs to run it, without access to the database. The answer
/// to a claim as it is (Dapper maps the claim's returned columns to the constructor by position and type).
/// </summary>
public sealed record ClaimedItem(Guid Id, Guid LeaseId, DateTime LeaseExpiresAt, int Claims, Guid QueueId, Guid RunId, string Entity, string Project,
    string? TargetProject, Guid JobId, string? JobName, int JobVersion, string Command, [property: JsonIgnore] string ArgsJson,
    [property: JsonIgnore] string RunConfig, [property: JsonIgnore] string EventJson, string? Traceparent)
{
    public JsonElement Args => JsonSerializer.Deserialize<JsonElement>(ArgsJson);
    public JsonElement Config => JsonSerializer.Deserialize<JsonElement>(RunConfig);
    public JsonElement Event => JsonSerializer.Deserialize<JsonElement>(EventJson);
}

/// <summary>
/// The agent-facing state changes of a queue item. Each holds the item's row lock for its transaction; the outcome
/// messages go into the launch outbox in that same transaction. A call must present the lease it got from its claim,
/// so an agent whose lease expired (and whose item went to another agent) cannot touch the item any more.
/// </summary>
public sealed class QueueItemStore(NpgsqlDataSource dataSource, IOptionsMonitor<LaunchOptions> options, [FromKeyedServices(Extensions.Schema)] Writes writes,
    LaunchMetrics metrics)
{
    public Task<ClaimedItem?> ClaimAsync(Guid queueId, string? agent, CancellationToken ct) => Moved(() => ClaimOnceAsync(queueId, agent, ct));

    private async Task<ClaimedItem?> ClaimOnceAsync(Guid queueId, string? agent, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        return await connection.QuerySingleOrDefaultAsync<ClaimedItem>(new CommandDefinition(
            """
            update launch.queue_items q
            set state = 'claimed', claims = q.claims + 1, lease_id = @leaseId, lease_expires_at = now() + @lease,
                claimed_at = now(), claimed_by = @agent, updated_at = now()
            where q.id = (select id from launch.queue_items
                          where queue_id = @queueId and state = 'queued'
                          order by created_at, id limit 1 for update skip locked)
            returning q.id as Id, q.lease_id as LeaseId, q.lease_expires_at as LeaseExpiresAt, q.claims as Claims, q.queue_id as QueueId,
                      q.run_id as RunId, q.entity as Entity, q.project as Project, q.target_project as TargetProject, q.job_id as JobId,
                      q.job_name as JobName, q.job_version as JobVersion, q.command as Command, q.args::text as ArgsJson,
                      q.run_config::text as RunConfig, q.event::text as EventJson, q.traceparent as Traceparent
            """,
            new { queueId, leaseId = Guid.CreateVersion7(), lease = options.CurrentValue.Lease, agent }, cancellationToken: ct));
    }

    public Task<(LeaseOutcome Outcome, DateTime? LeaseExpiresAt)> HeartbeatAsync(Guid entityId, Guid id, Guid leaseId, bool running, CancellationToken ct) =>
        Moved(() => HeartbeatOnceAsync(entityId, id, leaseId, running, ct));

    private async Task<(LeaseOutcome Outcome, DateTime? LeaseExpiresAt)> HeartbeatOnceAsync(Guid entityId, Guid id, Guid leaseId, bool running, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var (outcome, _) = await LockAsync(connection, tx, entityId, id, leaseId, ct);
        if (outcome != LeaseOutcome.Ok)
        {
            await tx.CommitAsync(ct);
            return (outcome == LeaseOutcome.AlreadyEnded ? LeaseOutcome.LeaseLost : outcome, null);
        }
        var expires = await connection.QuerySingleAsync<DateTime>(
            running
                ? "update launch.queue_items set state = 'running', started_at = coalesce(started_at, now()), lease_expires_at = now() + @lease, updated_at = now() where id = @id returning lease_expires_at"
                : "update launch.queue_items set lease_expires_at = now() + @lease, updated_at = now() where id = @id returning lease_expires_at",
            new { id, lease = options.CurrentValue.Lease }, tx);
        await tx.CommitAsync(ct);
        return (LeaseOutcome.Ok, expires);
    }

    /// <summary>The process ended: exit code 0 finishes the run, any other code fails it.</summary>
    public Task<(LeaseOutcome Outcome, string? State)> FinishAsync(Guid entityId, Guid id, Guid leaseId, int exitCode, CancellationToken ct) =>
        EndAsync(entityId, id, leaseId, exitCode, exitCode == 0 ? null : $"The process exited with code {exitCode}.", ct);

    public Task<(LeaseOutcome Outcome, string? State)> FailAsync(Guid entityId, Guid id, Guid leaseId, string reason, CancellationToken ct) =>
        EndAsync(entityId, id, leaseId, null, reason, ct);

    private Task<(LeaseOutcome Outcome, string? State)> EndAsync(Guid entityId, Guid id, Guid leaseId, int? exitCode, string? failure, CancellationToken ct) =>
        Moved(() => EndOnceAsync(entityId, id, leaseId, exitCode, failure, ct));

    private async Task<(LeaseOutcome Outcome, string? State)> EndOnceAsync(Guid entityId, Guid id, Guid leaseId, int? exitCode, string? failure, CancellationToken ct)
    {
        await using var w = await writes.BeginTransactionAsync(ct);
        var (outcome, row) = await LockAsync(w.Connection, w.Transaction, entityId, id, leaseId, ct);
        if (outcome != LeaseOutcome.Ok)
        {
            await w.CommitAsync(ct);
            // The same lease reporting again (its first answer was lost) is not an error: it gets the state it already set.
            return (outcome, row?.State);
        }
        var state = failure is null ? "finished" : "failed";
        var now = DateTimeOffset.UtcNow;
        await w.Connection.ExecuteAsync(
            """
            update launch.queue_items set state = @state, exit_code = @exitCode, failure_reason = @failure, ended_at = @now,
                lease_expires_at = null, updated_at = @now, retain_from = @now
            where id = @id
            """, new { id, state, exitCode, failure, now }, w.Transaction);
        if (failure is null)
            w.Publish(new LaunchJobFinished(row!.CommandId, row.RunId, id, exitCode ?? 0, now));
        else
            w.Publish(new LaunchJobFailed(row!.CommandId, row.RunId, id, failure, now));
        await w.CommitAsync(ct);
        metrics.Count(state);
        return (LeaseOutcome.Ok, state);
    }

    /// <summary>Hands the item back to its queue (an agent shutting down). A hand-back does not count as a claim.</summary>
    public Task<LeaseOutcome> ReleaseAsync(Guid entityId, Guid id, Guid leaseId, CancellationToken ct) => Moved(() => ReleaseOnceAsync(entityId, id, leaseId, ct));

    private async Task<LeaseOutcome> ReleaseOnceAsync(Guid entityId, Guid id, Guid leaseId, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await connection.BeginTransactionAsync(ct);
        var (outcome, row) = await LockAsync(connection, tx, entityId, id, leaseId, ct);
        if (outcome == LeaseOutcome.Ok)
        {
            await connection.ExecuteAsync(
                """
                update launch.queue_items set state = 'queued', claims = greatest(claims - 1, 0), lease_id = null, lease_expires_at = null,
                    claimed_by = null, started_at = null, updated_at = now()
                where id = @id;
                select pg_notify(@channel, @queue);
                """, new { id, channel = QueueSignals.Channel, queue = row!.QueueId.ToString() }, tx);
        }
        await tx.CommitAsync(ct);
        if (outcome == LeaseOutcome.Ok) metrics.Count("released");
        return outcome == LeaseOutcome.AlreadyEnded ? LeaseOutcome.LeaseLost : outcome;
    }

    /// <summary>
    /// Runs <paramref name="once"/> again when a row it waited to lock was moved or locked against it meanwhile. Ending an
    /// item moves its row to another partition (0004_partition_queue_items.sql), which PostgreSQL reports to a waiting
    /// lock as a serialization failure: a report whose item the lease sweeper or the same agent's other report ended, or
    /// a claim whose statement saw an item still queued that another agent then claimed and ended before the lock was
    /// taken. Two transactions locking the same items in another order end in a deadlock, reported to one of them. The
    /// next try sees the rows as they are now. Past the tries the failure stays transient: the answer is a 503 with
    /// Retry-After (HttpInput), which an agent retries.
    /// </summary>
    private static async Task<T> Moved<T>(Func<Task<T>> once)
    {
        for (var attempt = 1; ; attempt++)
        {
            try { return await once(); }
            catch (PostgresException e) when ((e.SqlState is PostgresErrorCodes.SerializationFailure or PostgresErrorCodes.DeadlockDetected) && attempt < MovedTries)
            {
                await Task.Delay(Random.Shared.Next(1, 5 * attempt));
            }
        }
    }

    private const int MovedTries = 5;

    private static async Task<(LeaseOutcome, LockedRow?)> LockAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid entityId, Guid id, Guid leaseId, CancellationToken ct)
    {
        var row = await connection.QuerySingleOrDefaultAsync<LockedRow>(new CommandDefinition(
            """
            select id as Id, entity_id as EntityId, queue_id as QueueId, command_id as CommandId, run_id as RunId, state as State, lease_id as LeaseId
            from launch.queue_items where id = @id for update
            """, new { id }, tx, cancellationToken: ct));
        if (row is null || row.EntityId != entityId) return (LeaseOutcome.NotFound, null);
        if (row.LeaseId != leaseId) return (LeaseOutcome.LeaseLost, null);
        if (row.State is "finished" or "failed") return (LeaseOutcome.AlreadyEnded, row);
        return (LeaseOutcome.Ok, row);
    }

    private sealed class LockedRow
    {
        public Guid Id { get; set; }
        public Guid? EntityId { get; set; }
        public Guid QueueId { get; set; }
        public Guid CommandId { get; set; }
        public Guid RunId { get; set; }
        public string State { get; set; } = "";
        public Guid? LeaseId { get; set; }
    }
}
