using Dapper;
using Npgsql;

namespace Automations.Persistence.Control;

/// <summary>Read queries over control.launch_queues and control.launch_job_versions (LaunchEnqueuer only reads them).</summary>
public static class LaunchQueries
{
    public sealed class Queue
    {
        public Guid Id { get; set; }
        public Guid EntityId { get; set; }
        public string Entity { get; set; } = "";
        public string Name { get; set; } = "";
    }

    public sealed class JobVersion
    {
        public Guid JobId { get; set; }
        public Guid EntityId { get; set; }
        public string Entity { get; set; } = "";
        public string JobName { get; set; } = "";
        public int Version { get; set; }
        public string Command { get; set; } = "";
        /// <summary>JSON array of strings.</summary>
        public string Args { get; set; } = "[]";
        /// <summary>JSON object.</summary>
        public string DefaultConfig { get; set; } = "{}";
    }

    public static Task<Queue?> FindQueueAsync(NpgsqlConnection connection, Guid queueId, NpgsqlTransaction? tx = null, CancellationToken ct = default) =>
        connection.QuerySingleOrDefaultAsync<Queue?>(new CommandDefinition(
            """
            select q.id as Id, q.entity_id as EntityId, e.name as Entity, q.name as Name
            from control.launch_queues q join control.entities e on e.id = q.entity_id
            where q.id = @queueId
            """, new { queueId }, tx, cancellationToken: ct));

    public static Task<JobVersion?> FindJobVersionAsync(NpgsqlConnection connection, Guid jobId, int version, NpgsqlTransaction? tx = null, CancellationToken ct = default) =>
        connection.QuerySingleOrDefaultAsync<JobVersion?>(new CommandDefinition(
            """
            select j.id as JobId, j.entity_id as EntityId, e.name as Entity, j.name as JobName, v.version as Version,
                   v.command as Command, v.args::text as Args, v.default_config::text as DefaultConfig
            from control.launch_job_versions v
            join control.launch_jobs j on j.id = v.job_id
            join control.entities e on e.id = j.entity_id
            where v.job_id = @jobId and v.version = @version
            """, new { jobId, version }, tx, cancellationToken: ct));
}
