using System.Diagnostics;
using System.Text.Json;
using Dapper;
using Npgsql;

namespace Automations.Persistence.Outbox;

/// <summary>
/// Writes messages into a schema's outbox inside the caller's transaction, keeping the current trace context,
/// and notifies the relay (NOTIFY is delivered only on commit, so the relay never wakes for a rolled-back row).
/// </summary>
public static class OutboxWriter
{
    public static Task<Guid> AddAsync<T>(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, T message, Guid? messageId = null)
        where T : class
        => AddAsync(connection, transaction, schema, typeof(T), message, messageId);

    public static async Task<Guid> AddAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string schema, Type type, object message, Guid? messageId = null)
    {
        var id = messageId ?? Guid.CreateVersion7();
        var parameters = new DynamicParameters();
        AddParameters(parameters, "o_", type, message, id);
        await connection.ExecuteAsync(
            $"""
            insert into {schema}.outbox (message_id, message_type, body, traceparent, tracestate)
            values (@o_id, @o_type, @o_body::json, @o_traceparent, @o_tracestate);
            select pg_notify('{schema}_outbox', '');
            """,
            parameters,
            transaction);
        return id;
    }

    // The pieces below put the outbox row into the same statement as the write it belongs to: one round trip and one
    // implicit transaction instead of BEGIN, write, outbox insert, COMMIT. For writes this small a round trip (two
    // context switches) costs more than the statement itself, and every event crosses several services.

    /// <summary>
    /// A CTE body that inserts one outbox row for each row of <paramref name="source"/> (usually a zero-or-one-row
    /// CTE such as <c>insert ... on conflict do nothing returning ...</c>); its parameters come from
    /// <see cref="AddParameters"/> with the same <paramref name="prefix"/>.
    /// </summary>
    /// <remarks><paramref name="availableAt"/> (an SQL expression) is when the relay may take the row: now by default;
    /// later for rows the writer publishes itself (<see cref="OutboxPublisher"/>).</remarks>
    public static string InsertFrom(string schema, string source, string prefix, string? availableAt = null) =>
        $"insert into {schema}.outbox (message_id, message_type, body, traceparent, tracestate{(availableAt is null ? "" : ", available_at")}) " +
        $"select @{prefix}id, @{prefix}type, @{prefix}body::json, @{prefix}traceparent::text, @{prefix}tracestate::text{(availableAt is null ? "" : ", " + availableAt)} from {source}";

    /// <summary>A scalar expression for the final select: notifies the relay only when <paramref name="source"/> has a row.</summary>
    public static string NotifyIfAny(string schema, string source) => $"(select pg_notify('{schema}_outbox', '') from {source} limit 1)";

    public static void AddParameters(GroupCommit.StatementParameters parameters, string prefix, Type type, object message, Guid id)
    {
        var (name, body, traceparent, tracestate) = Row(type, message);
        parameters.Add(prefix + "id", id).Add(prefix + "type", name).Add(prefix + "body", body)
            .Add(prefix + "traceparent", traceparent).Add(prefix + "tracestate", tracestate);
    }

    public static void AddParameters(DynamicParameters parameters, string prefix, Type type, object message, Guid id)
    {
        var (name, body, traceparent, tracestate) = Row(type, message);
        parameters.Add(prefix + "id", id);
        parameters.Add(prefix + "type", name);
        parameters.Add(prefix + "body", body);
        parameters.Add(prefix + "traceparent", traceparent);
        parameters.Add(prefix + "tracestate", tracestate);
    }

    /// <summary>An outbox row's values for a message: its type name, JSON body and the current trace context.</summary>
    private static (string Type, string Body, string? Traceparent, string? Tracestate) Row(Type type, object message)
    {
        var activity = Activity.Current;
        return (MessageTypes.NameOf(type), JsonSerializer.Serialize(message, type, Json.Options),
            activity?.Id is { } tid && activity.IdFormat == ActivityIdFormat.W3C ? tid : null, activity?.TraceStateString);
    }
}
