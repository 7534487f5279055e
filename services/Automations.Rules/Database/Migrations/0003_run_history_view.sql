-- What other services may read of the runs: the Api's run history reads this view, never rules.runs, so Rules can
-- reshape its table (partition it by time, move old runs to an archive and union them in here) by changing this view
-- and keeping its columns.
create view rules.run_history as
select id, automation_id, entity, project, status, reason, event, action_type, webhook_id, job_id, job_version,
       queue_id, target_project, command_id, payload, created_at, updated_at, finished_at
from rules.runs;
