using System.Globalization;
using Dapper;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Automations.Persistence.Retention;

/// <summary>
/// Keeps each of its service's partitioned tables ready and bounded: partitions created <see cref="RetentionOptions.Ahead"/>
/// intervals ahead, a partition dropped once all of it is older than its table's keep (and nothing in it is in progress),
/// the small default partition trimmed. A pass over a table holds an advisory lock, so replicas take turns; each step that
/// locks the table is a short transaction of its own that takes the table's lock first (<see cref="LockTableAsync"/>). Its
/// cost is per partition, never per row.
/// </summary>
public sealed class PartitionMaintenance(NpgsqlDataSource dataSource, IReadOnlyList<PartitionedTable> tables, IOptionsMonitor<RetentionOptions> options,
    ILogger<PartitionMaintenance> logger) : BackgroundService
{
    /// <summary>What one pass over a table did.</summary>
    /// <param name="Deferred">Steps (a creation, a due partition's drop) left for the next check because the table or the partition stayed busy.</param>
    public sealed record Rotation(int Created, int Dropped, int Held, int Trimmed, DateTimeOffset? Until, int Deferred = 0);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            await RunOnceAsync(stoppingToken);
            await Task.Delay(options.CurrentValue.CheckEvery, stoppingToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
    }

    /// <summary>One pass over every table; a table that fails is logged and tried again at the next check.</summary>
    public async Task RunOnceAsync(CancellationToken ct)
    {
        foreach (var table in tables)
        {
            try
            {
                var r = await RotateAsync(table, options.CurrentValue, ct);
                if (r is not null && (r.Created > 0 || r.Dropped > 0 || r.Trimmed > 0 || r.Deferred > 0))
                    logger.LogInformation("Retention {Table}: created {Created} partition(s) up to {Until:o}, dropped {Dropped} older than {Keep}, kept {Held} holding rows in progress, deferred {Deferred} (table busy), trimmed {Trimmed} row(s) of the default partition",
                        table.Name, r.Created, r.Until, r.Dropped, table.Keep(options.CurrentValue), r.Held, r.Deferred, r.Trimmed);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                logger.LogWarning(ex, "Retention {Table}: maintenance failed; next try in {Every}", table.Name, options.CurrentValue.CheckEvery);
            }
        }
    }

    /// <returns>What it did, or null when another replica holds the table's lock.</returns>
    public async Task<Rotation?> RotateAsync(PartitionedTable table, RetentionOptions o, CancellationToken ct)
    {
        await using var connection = await dataSource.OpenConnectionAsync(ct);
        // A session lock (not a transaction's): the pass is several short transactions, and replicas take turns over all of them.
        if (!await connection.ExecuteScalarAsync<bool>(new CommandDefinition(
                "select pg_try_advisory_lock(hashtextextended('retention:' || @name, 0))", new { name = table.Name }, cancellationToken: ct)))
            return null;
        try
        {
            return await RotateLockedAsync(connection, table, o, ct);
        }
        finally
        {
            if (connection.State == System.Data.ConnectionState.Open)
                await connection.ExecuteAsync("select pg_advisory_unlock(hashtextextended('retention:' || @name, 0))", new { name = table.Name });
        }
    }

    // CREATE TABLE ... PARTITION OF and DROP TABLE of a partition lock the parent ACCESS EXCLUSIVE until their transaction
    // ends, stopping every writer of the table meanwhile. So each runs in a transaction of its own that does nothing else
    // but an indexed look or a read of the small default partition: the scan of a partition for rows in progress happens
    // before, without the table's lock.
    private async Task<Rotation> RotateLockedAsync(NpgsqlConnection connection, PartitionedTable table, RetentionOptions o, CancellationToken ct)
    {
        DateTime now, cursor;
        List<Partition> partitions;
        await using (var look = await BeginShortAsync(connection, ct))
        {
            now = await connection.ExecuteScalarAsync<DateTime>(new CommandDefinition("select now()", transaction: look, cancellationToken: ct));
            partitions = (await connection.QueryAsync<Partition>(new CommandDefinition(
                """
                select c.oid::regclass::text as name, b = 'DEFAULT' as isdefault,
                       (regexp_match(b, $re$FROM \('([^']+)'\)$re$))[1]::timestamptz as low,
                       (regexp_match(b, $re$TO \('([^']+)'\)$re$))[1]::timestamptz as high
                from pg_inherits i
                join pg_class c on c.oid = i.inhrelid
                cross join lateral pg_get_expr(c.relpartbound, c.oid) as b
                where i.inhparent = @name::regclass
                """, new { name = table.Name }, look, cancellationToken: ct))).AsList();

            // Created from where the partitions end (and past the default partition's rows: below).
            cursor = Bin(now, o.Interval);
            if (partitions.Where(p => !p.IsDefault).Select(p => p.High).Max() is { } highest && highest > cursor) cursor = highest;
            await look.CommitAsync(ct);
        }

        var created = 0;
        var deferred = 0;
        var until = now + o.Interval * o.Ahead;
        if (cursor < until)
        {
            // Partitions are made Ahead intervals early, so a table too busy to lock now only delays them to the next check.
            await using var create = await LockTableAsync(connection, table, ct);
            if (create is null) deferred++;
            else
            {
                // Past every row the default partition holds, since a new partition may not cover one of them. The default
                // is where rows land between the migration and the first pass, or when the passes stopped for longer than
                // the partitions ahead reach; writers go on filling it until the lock is taken, so it is read under the
                // lock, which keeps new rows out. It is small but for those rows.
                if (partitions.Any(p => p.IsDefault) && await connection.ExecuteScalarAsync<DateTime?>(new CommandDefinition(
                        $"select max({table.Column}) from {table.DefaultPartition} where {table.Column} >= @cursor", new { cursor }, create, cancellationToken: ct)) is { } newest)
                    cursor = newest.AddTicks(10); // one microsecond: timestamptz's resolution
                while (cursor < until)
                {
                    var next = Bin(cursor, o.Interval) + o.Interval;
                    var partition = $"{table.Name}_p{cursor.ToString("yyyyMMdd_HHmmss", CultureInfo.InvariantCulture)}";
                    await connection.ExecuteAsync(new CommandDefinition(
                        $"create table {partition} partition of {table.Name} for values from ('{Literal(cursor)}') to ('{Literal(next)}')", transaction: create, cancellationToken: ct));
                    if (table.PartitionDdl is { } ddl)
                        await connection.ExecuteAsync(new CommandDefinition(ddl.Replace("{partition}", partition, StringComparison.Ordinal), transaction: create, cancellationToken: ct));
                    created++;
                    cursor = next;
                }
                await create.CommitAsync(ct);
            }
        }

        var cutoff = now - table.Keep(o);
        int dropped = 0, held = 0;
        foreach (var p in partitions.Where(p => !p.IsDefault && p.High is { } high && high <= cutoff))
        {
            string? probe = null;
            if (table.HeldWhile is { } predicate)
            {
                probe = $"select exists (select from {p.Name} where {Bounds(predicate, p.Low, p.High!.Value)})";
                // Looked at first without a lock (readers are not stopped while a held partition is looked at every check),
                // then again under the table's lock (RecheckUnderLock): a row in progress inserted meanwhile (a command
                // arriving later than the whole window) is then either seen or not yet written, never dropped with the partition.
                await using var look = await BeginShortAsync(connection, ct);
                var inProgress = await connection.ExecuteScalarAsync<bool>(new CommandDefinition(probe, transaction: look, cancellationToken: ct));
                await look.CommitAsync(ct);
                if (inProgress)
                {
                    held++;
                    continue;
                }
            }
            await using var drop = await LockTableAsync(connection, table, ct, p.Name);
            if (drop is null)
            {
                deferred++;
                continue;
            }
            if (probe is not null && table.RecheckUnderLock
                && await connection.ExecuteScalarAsync<bool>(new CommandDefinition(probe, transaction: drop, cancellationToken: ct)))
            {
                held++;
                continue;
            }
            await connection.ExecuteAsync(new CommandDefinition($"drop table {p.Name}", transaction: drop, cancellationToken: ct));
            await drop.CommitAsync(ct);
            dropped++;
        }
        var trimmed = 0;
        if (partitions.Any(p => p.IsDefault))
        {
            await using var tx = await BeginShortAsync(connection, ct);
            trimmed = await connection.ExecuteAsync(new CommandDefinition(
                $"delete from {table.DefaultPartition} where {table.Column} < @cutoff{(table.HeldWhile is { } h ? $" and not ({Bounds(h, null, cutoff)})" : "")}",
                new { cutoff }, tx, cancellationToken: ct));
            await tx.CommitAsync(ct);
        }
        return new Rotation(created, dropped, held, trimmed, created > 0 ? cursor : null, deferred);
    }

    /// <summary>
    /// A transaction holding the table ACCESS EXCLUSIVE (and <paramref name="partition"/>, when given), or null when they
    /// stayed busy: the caller tries again at the next check. The table is locked before the partition, in the order
    /// every query of the table takes them: a query through the table (an update by id touches every partition) holds the
    /// table and waits for the partition, so a pass holding the partition while it waited for the table would deadlock with
    /// it until the lock timeout, with every writer of the table queued behind. And the first tries do not wait at all
    /// (NOWAIT), so writers never queue behind a lock the pass is waiting for; only the last waits, for at most the short
    /// lock timeout, for a table that is never idle for a moment.
    /// </summary>
    private static async Task<NpgsqlTransaction?> LockTableAsync(NpgsqlConnection connection, PartitionedTable table, CancellationToken ct, string? partition = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var last = attempt == LockTries;
            var tx = await BeginShortAsync(connection, ct);
            try
            {
                await connection.ExecuteAsync(new CommandDefinition(
                    $"lock table only {table.Name} in access exclusive mode{(last ? "" : " nowait")}", transaction: tx, cancellationToken: ct));
                // ONLY: LOCK TABLE would take every partition too, and wait for a reader of one while holding the table.
                // Once the table is held no query through it holds a partition; only a direct reader of the partition
                // (the pass's own look, from another replica) may, and it is not waited for while the table is held.
                if (partition is not null)
                    await connection.ExecuteAsync(new CommandDefinition($"lock table {partition} in access exclusive mode nowait", transaction: tx, cancellationToken: ct));
                return tx;
            }
            catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
            {
                await tx.RollbackAsync(ct);
                await tx.DisposeAsync();
                if (last) return null;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(Random.Shared.Next(20, 80)), ct);
        }
    }

    /// <summary>How many times a step tries for the table's lock in one pass (all but the last without waiting).</summary>
    private const int LockTries = 20;

    /// <summary>
    /// A transaction with a short lock timeout: a long query on the table delays the step to the next check instead of
    /// queueing the table's writers behind a lock it waits for.
    /// </summary>
    private static async Task<NpgsqlTransaction> BeginShortAsync(NpgsqlConnection connection, CancellationToken ct)
    {
        var tx = await connection.BeginTransactionAsync(ct);
        await connection.ExecuteAsync(new CommandDefinition("set local lock_timeout = '500ms'; set local timezone = 'UTC'", transaction: tx, cancellationToken: ct));
        return tx;
    }

    /// <summary>The start of the interval <paramref name="t"/> falls in, intervals counted from 2000-01-01 UTC (as date_bin).</summary>
    internal static DateTime Bin(DateTime t, TimeSpan interval)
    {
        var origin = new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc);
        return origin.AddTicks((t - origin).Ticks / interval.Ticks * interval.Ticks);
    }

    private static string Bounds(string predicate, DateTime? low, DateTime high) => predicate
        .Replace("{low}", low is { } l ? $"'{Literal(l)}'::timestamptz" : "'-infinity'::timestamptz", StringComparison.Ordinal)
        .Replace("{high}", $"'{Literal(high)}'::timestamptz", StringComparison.Ordinal);

    private static string Literal(DateTime t) => t.ToString("yyyy-MM-dd HH:mm:ss.ffffff", CultureInfo.InvariantCulture) + "+00";

    private sealed record Partition(string Name, bool IsDefault, DateTime? Low, DateTime? High);
}
