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
        var activity = Activity.Current;
        await connection.ExecuteAsync(
            $"""
            insert into {schema}.outbox (message_id, message_type, body, traceparent, tracestate)
            values (@id, @type, @body::jsonb, @traceparent, @tracestate);
            select pg_notify('{schema}_outbox', '');
            """,
            new
            {
                id,
                type = MessageTypes.NameOf(type),
                body = JsonSerializer.Serialize(message, type, Json.Options),
                traceparent = activity?.Id is { } tid && activity.IdFormat == ActivityIdFormat.W3C ? tid : null,
                tracestate = activity?.TraceStateString,
            },
            transaction);
        return id;
    }
}
