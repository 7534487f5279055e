-- Retention (docs/operations.md "Retention"): queue items are kept Retention:History after they end. They are
-- partitioned by retain_from: 'infinity' while the item is queued, claimed or running (all such items share the
-- partition queue_items_pending, never dropped), the time it ended once it is finished or failed (the update that ends
-- it moves the row into that day's partition, which the service drops once all of it is older than Retention:History).
-- An item that waits for months holds only itself, never the partitions of the items that ended around it; and the
-- live items stay together in one small partition, whatever the history holds.
--
-- id and command_id are unique per partition (a unique index of the partitioned table would have to include
-- retain_from): the enqueue looks for the command in every partition before it inserts (EnqueueLaunchJobConsumer).
--
-- The existing table becomes the first partition as it is (as ingestion.events in its 0002): a constant retain_from
-- added without a rewrite, a CHECK added NOT VALID and validated (a read), attached keeping its indexes. Its items still
-- in progress hold it (Extensions.QueueItems) until they end and move out; then it goes whole.
alter table launch.queue_items rename to queue_items_before_partitioning;
alter table launch.queue_items_before_partitioning add column retain_from timestamptz not null default '-infinity';

create table launch.queue_items (
    id                uuid        not null,
    command_id        uuid        not null,
    run_id            uuid        not null,
    event_id          uuid        not null,
    automation_id     uuid        not null,
    entity_id         uuid,
    entity            text        not null,
    project           text        not null,
    queue_id          uuid        not null,
    job_id            uuid        not null,
    job_name          text,
    job_version       int         not null,
    command           text,
    args              jsonb,
    run_config        jsonb,
    target_project    text,
    event             jsonb       not null,
    state             text        not null constraint queue_items_state_check check (state in ('queued', 'claimed', 'running', 'finished', 'failed')),
    claims            int         not null default 0,
    lease_id          uuid,
    lease_expires_at  timestamptz,
    claimed_by        text,
    exit_code         int,
    failure_reason    text,
    created_at        timestamptz not null default now(),
    claimed_at        timestamptz,
    started_at        timestamptz,
    ended_at          timestamptz,
    updated_at        timestamptz not null default now(),
    traceparent       text,
    retain_from       timestamptz not null default 'infinity'
) partition by range (retain_from);

do $body$
declare
    bound timestamptz := now();
begin
    execute format('alter table launch.queue_items_before_partitioning add constraint queue_items_before_partitioning_range check (retain_from < %L) not valid', bound);
    alter table launch.queue_items_before_partitioning validate constraint queue_items_before_partitioning_range;
    execute format('alter table launch.queue_items attach partition launch.queue_items_before_partitioning for values from (minvalue) to (%L)', bound);
end
$body$;

-- On the partitioned table (each partition gets them; the old table's own become its parts).
create index queue_items_next_partitioned on launch.queue_items (queue_id, created_at, id) where state = 'queued';
create index queue_items_leases_partitioned on launch.queue_items (lease_expires_at) where state in ('claimed', 'running');
create index queue_items_by_queue_partitioned on launch.queue_items (queue_id, state, created_at desc);

-- Every item in progress.
create table launch.queue_items_pending partition of launch.queue_items for values from ('infinity') to (maxvalue);
create unique index queue_items_pending_id on launch.queue_items_pending (id);
create unique index queue_items_pending_command on launch.queue_items_pending (command_id);

-- Where ended items land until the service has created the partitions ahead: kept small (see 0002 in ingestion).
create table launch.queue_items_default partition of launch.queue_items default;
create unique index queue_items_default_id on launch.queue_items_default (id);
create unique index queue_items_default_command on launch.queue_items_default (command_id);

-- The rename took the view along to the old table: it reads the partitioned table again, with the same columns.
create or replace view launch.queue_item_history as
select id, queue_id, state, run_id, command_id, automation_id, event_id, project, target_project, job_id, job_name,
       job_version, run_config, claims, claimed_by, lease_expires_at, exit_code, failure_reason, created_at, claimed_at,
       started_at, ended_at
from launch.queue_items;
