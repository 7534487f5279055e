-- Retention (docs/operations.md "Retention"): events are partitioned by received_at, and the service drops a partition
-- once all of it is older than Retention:History, instead of deleting rows one by one.
--
-- The producer's dedupe key (entity, event_id) cannot be a unique index of the partitioned table (that would have to
-- include received_at, which differs for each copy): it is a unique index on each partition, and the insert first looks
-- for the id in the partitions inside the dedupe window (EventStore).
--
-- The existing table becomes the first partition, as it is: renamed, a CHECK constraint added NOT VALID and validated
-- (a read of the table, without blocking reads; no rewrite), which lets the attach skip its own scan. Its rows keep
-- their ids and dedupe keys, and the whole partition goes once its newest row is older than Retention:History.
-- Copying instead would write every row again, with the table locked for as long as that takes.
alter table ingestion.events rename to events_before_partitioning;

create table ingestion.events (
    id              uuid not null,
    entity          text not null,
    event_id        text not null,
    event_type      text not null,
    project         text not null,
    collection      text not null,
    version_id      text,
    version_index   int,
    alias           text,
    tag             text,
    author          text,
    occurred_at     timestamptz not null,
    received_at     timestamptz not null default now(),
    source          text not null constraint events_source_check check (source in ('http', 'amqp')),
    metadata        jsonb
) partition by range (received_at);

do $body$
declare
    bound timestamptz := (select greatest(now(), max(received_at) + interval '1 microsecond') from ingestion.events_before_partitioning);
begin
    execute format('alter table ingestion.events_before_partitioning add constraint events_before_partitioning_range check (received_at < %L) not valid', bound);
    alter table ingestion.events_before_partitioning validate constraint events_before_partitioning_range;
    execute format('alter table ingestion.events attach partition ingestion.events_before_partitioning for values from (minvalue) to (%L)', bound);
end
$body$;

-- Where rows land until the service has created the partitions ahead (or if its maintenance stops for longer than they
-- reach): kept small, so that creating a partition (which must check it) stays cheap.
create table ingestion.events_default partition of ingestion.events default;
create unique index events_default_dedupe on ingestion.events_default (entity, event_id);
