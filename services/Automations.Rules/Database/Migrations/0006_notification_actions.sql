-- Runs of the two new action types (issue 23): `no_op` (recorded Finished, nothing sent) and `notification` (a
-- delivery to a Slack or Teams integration, like a webhook's).
--
-- A partition attached in 0004 (runs_before_partitioning) kept its own copy of the check (it was the table's), which
-- dropping the parent's leaves behind: drop every partition's copy too, so that a redelivered old event whose run lands
-- in an old partition is not refused.
alter table rules.runs drop constraint runs_action_type_check;
do $body$
declare
    part regclass;
begin
    for part in
        select c.conrelid::regclass from pg_constraint c join pg_inherits i on i.inhrelid = c.conrelid
        where i.inhparent = 'rules.runs'::regclass and c.conname = 'runs_action_type_check'
    loop
        execute format('alter table %s drop constraint runs_action_type_check', part);
    end loop;
end
$body$;
alter table rules.runs add constraint runs_action_type_check check (action_type in ('webhook', 'launch', 'no_op', 'notification'));
