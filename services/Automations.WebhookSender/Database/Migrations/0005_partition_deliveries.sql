-- Retention (docs/operations.md "Retention"): deliveries and their attempts are partitioned by command_at, the time in
-- the SendWebhook command's id (a UUIDv7 Rules makes; DeliveryStore.CommandAt). A redelivered command carries the same
-- id, lands in the same partition, and that partition's unique command_id stops it without probing the others. An
-- attempt carries its delivery's command_at, so the two tables' partitions go together. The sender drops a deliveries
-- partition once all of it is older than Retention:History and none of its deliveries is pending (a delivery still
-- retrying holds it), and an attempts partition once no delivery is left in its range (Extensions.Deliveries).
--
-- The existing tables become the first partitions as they are (as ingestion.events in 0002): a constant command_at
-- added without a rewrite, a CHECK added NOT VALID and validated (a read), attached keeping their indexes. The foreign
-- key from attempts goes: a partition is dropped whole, and attempts go with their deliveries' partition instead.
alter table delivery.deliveries rename to deliveries_before_partitioning;
alter table delivery.attempts rename to attempts_before_partitioning;
alter table delivery.attempts_before_partitioning drop constraint attempts_delivery_id_fkey;
alter table delivery.deliveries_before_partitioning add column command_at timestamptz not null default '-infinity';
alter table delivery.attempts_before_partitioning add column command_at timestamptz not null default '-infinity';

create table delivery.deliveries (
    id               uuid not null,
    command_id       uuid not null,
    run_id           uuid not null,
    event_id         uuid not null,
    automation_id    uuid not null,
    entity           text not null,
    project          text not null,
    webhook_id       uuid not null,
    payload          text not null,
    status           text not null constraint deliveries_status_check check (status in ('pending', 'succeeded', 'failed')),
    attempts         int  not null default 0,
    max_attempts     int  not null,
    next_attempt_at  timestamptz,
    claim            uuid,
    manual_pending   boolean not null default false,
    last_status_code int,
    last_error       text,
    traceparent      text,
    occurred_at      timestamptz not null,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    completed_at     timestamptz,
    payload_format   smallint not null default 1,
    command_at       timestamptz not null default now()
) partition by range (command_at);

-- The identity of the old table stays its own; new rows number on from its last value.
create sequence delivery.attempt_ids;
select setval('delivery.attempt_ids', coalesce((select max(id) from delivery.attempts_before_partitioning), 0) + 1, false);
create table delivery.attempts (
    id                 bigint not null default nextval('delivery.attempt_ids'),
    delivery_id        uuid not null,
    number             int  not null,
    manual             boolean not null default false,
    started_at         timestamptz not null,
    duration_ms        double precision not null,
    status_code        int,
    response_headers   jsonb,
    response_body      text,
    error              text,
    next_attempt_at    timestamptz,
    response_masked    boolean not null default false,
    response_truncated boolean not null default false,
    command_at         timestamptz not null default now()
) partition by range (command_at);

do $body$
declare
    bound timestamptz := now();
begin
    execute format('alter table delivery.deliveries_before_partitioning add constraint deliveries_before_partitioning_range check (command_at < %L) not valid', bound);
    alter table delivery.deliveries_before_partitioning validate constraint deliveries_before_partitioning_range;
    execute format('alter table delivery.deliveries attach partition delivery.deliveries_before_partitioning for values from (minvalue) to (%L)', bound);
    execute format('alter table delivery.attempts_before_partitioning add constraint attempts_before_partitioning_range check (command_at < %L) not valid', bound);
    alter table delivery.attempts_before_partitioning validate constraint attempts_before_partitioning_range;
    execute format('alter table delivery.attempts attach partition delivery.attempts_before_partitioning for values from (minvalue) to (%L)', bound);
end
$body$;

-- On the partitioned tables (each new partition gets them; the old tables' own indexes become their parts).
create index deliveries_due_partitioned on delivery.deliveries (next_attempt_at) where status = 'pending';
create index deliveries_webhook_partitioned on delivery.deliveries (webhook_id, created_at);
create index attempts_delivery_partitioned on delivery.attempts (delivery_id, number);

-- Where rows land until the service has created the partitions ahead: kept small (see 0002 in ingestion).
create table delivery.deliveries_default partition of delivery.deliveries default;
create unique index deliveries_default_command on delivery.deliveries_default (command_id);
create unique index deliveries_default_id on delivery.deliveries_default (id);
create table delivery.attempts_default partition of delivery.attempts default;

-- The renames took the views along to the old tables: they read the partitioned tables again, with the same columns.
create or replace view delivery.delivery_history as
select id, command_id, run_id, event_id, automation_id, webhook_id, entity, project, status, attempts, next_attempt_at,
       last_status_code, last_error, payload, created_at, completed_at
from delivery.deliveries;

create or replace view delivery.attempt_history as
select delivery_id, number, manual, started_at, duration_ms, status_code,
       case when response_masked then response_headers end as response_headers,
       case when response_masked then response_body end as response_body,
       response_truncated, error, next_attempt_at
from delivery.attempts;
