-- What other services may read of the queue items: the Api's item listing reads this view, never launch.queue_items,
-- so the LaunchEnqueuer can reshape its table (partition it by time, archive ended items) by changing this view and
-- keeping its columns. Leases, commands, arguments and the event stay with the agent API.
create view launch.queue_item_history as
select id, queue_id, state, run_id, command_id, automation_id, event_id, project, target_project, job_id, job_name,
       job_version, run_config, claims, claimed_by, lease_expires_at, exit_code, failure_reason, created_at, claimed_at,
       started_at, ended_at
from launch.queue_items;
