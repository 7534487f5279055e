using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Automations.Persistence.GroupCommit;
using Npgsql;

namespace Automations.Persistence.Outbox;

/// <summary>
/// The SQL of a schema's outbox rows: one row per message, with the current trace context. A row written for the relay
/// alone is available at once and the statement notifies it (NOTIFY is delivered only on commit, so the relay never wakes
/// for a rolled-back row); a row its writer publishes itself (the direct path) is the relay's only after a grace, without
/// NOTIFY, whose commit-time lock serialises all writers.
/// </summary>
internal static class OutboxWriter
{
    private const string Columns = "message_id, message_type, body, traceparent, tracestate";

    /// <summary>One pending outbox row: what is inserted, and what is published after the commit.</summary>
    public sealed record Row(Guid MessageId, Type Type, object Message, string Name, string Body, string? Traceparent, string? Tracestate)
    {
        /// <summary>The row of <paramref name="message"/>, with the trace context current now (the writer's).</summary>
        public static Row For(Type type, object message, Guid? messageId)
        {
            var activity = Activity.Current;
            return new Row(messageId ?? Guid.CreateVersion7(), type, message, MessageTypes.NameOf(type), JsonSerializer.Serialize(message, type, Json.Options),
                activity?.Id is { } tid && activity.IdFormat == ActivityIdFormat.W3C ? tid : null, activity?.TraceStateString);
        }

        public void AddTo(StatementParameters parameters, string prefix) =>
            parameters.Add(prefix + "id", MessageId).Add(prefix + "type", Name).Add(prefix + "body", Body)
                .Add(prefix + "traceparent", Traceparent).Add(prefix + "tracestate", Tracestate);
    }

    /// <summary>
    /// The SQL expression for when the relay may take a row: null (the column default, now) for the relay's rows; the grace
    /// counts from the write, not from the start of its transaction.
    /// </summary>
    public static string? AvailableAt(TimeSpan? grace) =>
        grace is { } g ? $"clock_timestamp() + interval '{(int)Math.Ceiling(g.TotalMilliseconds)} milliseconds'" : null;

    /// <summary>
    /// An insert of one row whose parameters are <see cref="Row.AddTo"/>'s with <paramref name="prefix"/>; only when
    /// <paramref name="source"/> (a CTE) has a row, if given.
    /// </summary>
    public static string InsertOne(string schema, string prefix, string? availableAt, string? source) =>
        $"insert into {schema}.outbox ({Columns}{(availableAt is null ? "" : ", available_at")}) " +
        $"select @{prefix}id, @{prefix}type, @{prefix}body::json, @{prefix}traceparent::text, @{prefix}tracestate::text{(availableAt is null ? "" : ", " + availableAt)}" +
        (source is null ? "" : $" where exists (select from {source})");

    /// <summary>One statement inserting all <paramref name="rows"/> (parameters prefixed <c>m0_</c>, <c>m1_</c>, ...), with the NOTIFY when the rows are the relay's.</summary>
    public static (string Sql, StatementParameters Parameters) InsertAll(string schema, IReadOnlyList<Row> rows, string? availableAt)
    {
        var parameters = new StatementParameters();
        var sql = new StringBuilder($"insert into {schema}.outbox ({Columns}{(availableAt is null ? "" : ", available_at")}) values ");
        for (var i = 0; i < rows.Count; i++)
        {
            var p = $"m{i}_";
            rows[i].AddTo(parameters, p);
            sql.Append(i == 0 ? "" : ", ")
                .Append($"(@{p}id, @{p}type, @{p}body::json, @{p}traceparent::text, @{p}tracestate::text{(availableAt is null ? "" : ", " + availableAt)})");
        }
        // The relay's rows wake it, in the same statement.
        return (availableAt is null ? $"with made as ({sql}) select {Notify(schema)}" : sql.ToString(), parameters);
    }

    /// <summary>Wakes the schema's relay (on commit).</summary>
    public static string Notify(string schema) => $"pg_notify('{schema}_outbox', '')";

    /// <summary>Writes one message for the relay in the caller's transaction (tests hand messages to a relay this way).</summary>
    public static async Task<Guid> AddAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, Type type, object message, Guid? messageId = null)
    {
        var row = Row.For(type, message, messageId);
        var (sql, parameters) = InsertAll(schema, [row], null);
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        command.Parameters.AddRange(parameters.List.ToArray());
        await command.ExecuteNonQueryAsync();
        return row.MessageId;
    }

    public static Task<Guid> AddAsync<T>(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, T message, Guid? messageId = null)
        where T : class
        => AddAsync(connection, transaction, schema, typeof(T), message, messageId);
}
