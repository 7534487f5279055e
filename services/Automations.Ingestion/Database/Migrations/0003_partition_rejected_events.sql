-- Retention (docs/operations.md "Retention"): refused messages are partitioned by received_at, and the service drops a
-- partition once all of it is older than Retention:History (Extensions.RejectedEvents).
--
-- The existing table becomes the first partition as it is (as events in 0002): renamed, a CHECK added NOT VALID and
-- validated (a read, no rewrite), attached keeping its indexes. Its identity becomes a sequence of the partitioned table
-- (a partitioned table has no identity column before PostgreSQL 17), numbering on from its last id; the id stays
-- unique per partition.
alter table ingestion.rejected_events rename to rejected_events_before_partitioning;

create sequence ingestion.rejected_event_ids;
select setval('ingestion.rejected_event_ids', coalesce((select max(id) from ingestion.rejected_events_before_partitioning), 0) + 1, false);
alter table ingestion.rejected_events_before_partitioning alter column id drop identity;

create table ingestion.rejected_events (
    id            bigint not null default nextval('ingestion.rejected_event_ids'),
    received_at   timestamptz not null default now(),
    source        text not null,
    routing_key   text,
    message_id    text,
    reason        text not null,
    raw_body      bytea not null
) partition by range (received_at);
alter sequence ingestion.rejected_event_ids owned by ingestion.rejected_events.id;

do $body$
declare
    bound timestamptz := (select greatest(now(), max(received_at) + interval '1 microsecond') from ingestion.rejected_events_before_partitioning);
begin
    execute format('alter table ingestion.rejected_events_before_partitioning add constraint rejected_events_before_partitioning_range check (received_at < %L) not valid', bound);
    alter table ingestion.rejected_events_before_partitioning validate constraint rejected_events_before_partitioning_range;
    execute format('alter table ingestion.rejected_events attach partition ingestion.rejected_events_before_partitioning for values from (minvalue) to (%L)', bound);
end
$body$;

-- Newest first (docs/producers.md reads them so); the old table's index becomes this one's part.
create index rejected_events_received_at_partitioned on ingestion.rejected_events (received_at);

-- Where rows land until the service has created the partitions ahead: kept small (see 0002).
create table ingestion.rejected_events_default partition of ingestion.rejected_events default;
