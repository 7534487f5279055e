-- Retention (docs/operations.md "Retention"): runs are partitioned by their event's received_at (carried in
-- ArtifactEventReceived), and Rules drops a partition once all of it is older than Retention:History.
--
-- The key is the event's time, not the run's: a redelivered event carries the same received_at, lands in the same
-- partition, and that partition's unique (automation_id, event_id) stops the second run without probing the others.
-- Neither that key nor the id can be unique on the partitioned table (it would have to include received_at): both are
-- unique indexes on each partition (Extensions.Runs). An outcome finds its run by id with one index probe per partition.
--
-- The existing table becomes the first partition, as it is (as ingestion.events in 0002): a constant received_at is
-- added without a rewrite (its rows' real times are in their event JSON; only the partition bound uses the column), a
-- CHECK added NOT VALID and validated (a read), then attached. It keeps its indexes, and goes whole once it is older
-- than Retention:History.
alter table rules.runs rename to runs_before_partitioning;
alter table rules.runs_before_partitioning add column received_at timestamptz not null default '-infinity';

create table rules.runs (
    id                 uuid not null,
    automation_id      uuid not null,
    automation_name    text not null,
    entity             text not null,
    project            text not null,
    event_id           uuid not null,
    producer_event_id  text not null,
    event_type         text not null,
    event              jsonb not null,
    action_type        text not null constraint runs_action_type_check check (action_type in ('webhook', 'launch')),
    webhook_id         uuid,
    job_id             uuid,
    job_version        int,
    queue_id           uuid,
    target_project     text,
    command_id         uuid not null,
    payload            text,
    status             text not null constraint runs_status_check check (status in ('Pending', 'Enqueued', 'Finished', 'Failed')),
    reason             text,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    finished_at        timestamptz,
    received_at        timestamptz not null default now()
) partition by range (received_at);

do $body$
declare
    bound timestamptz := now();
begin
    execute format('alter table rules.runs_before_partitioning add constraint runs_before_partitioning_range check (received_at < %L) not valid', bound);
    alter table rules.runs_before_partitioning validate constraint runs_before_partitioning_range;
    execute format('alter table rules.runs attach partition rules.runs_before_partitioning for values from (minvalue) to (%L)', bound);
end
$body$;

-- History: one automation's runs, newest first (the old table's runs_history becomes its partition of this index).
create index runs_history_partitioned on rules.runs (automation_id, created_at desc, id desc);

-- Where rows land until the service has created the partitions ahead: kept small (see 0002 in ingestion).
create table rules.runs_default partition of rules.runs default with (fillfactor = 80);
create unique index runs_default_dedupe on rules.runs_default (automation_id, event_id);
create unique index runs_default_id on rules.runs_default (id);

-- The rename took the view along to the old table: it reads the partitioned table again, with the same columns.
create or replace view rules.run_history as
select id, automation_id, entity, project, status, reason, event, action_type, webhook_id, job_id, job_version,
       queue_id, target_project, command_id, payload, created_at, updated_at, finished_at
from rules.runs;
