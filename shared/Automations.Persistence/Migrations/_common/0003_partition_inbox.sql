-- Retention (docs/operations.md "Retention"): the inbox is partitioned by processed_at, and the owning service drops a
-- partition once all of it is older than Retention:Inbox (Inbox.Table), instead of deleting marks one by one.
--
-- (consumer, message_id) cannot be a unique index of the partitioned table (it would have to include processed_at,
-- which differs for each copy): it is a unique index on each partition, and the mark first looks for the id in every
-- partition kept (Inbox.Insert), so a copy arriving days later is still a duplicate, and two copies racing into the same
-- partition serialize on its unique index.
--
-- The existing table becomes the first partition as it is (as ingestion.events in its 0002): renamed, a CHECK added NOT
-- VALID and validated (a read, no rewrite), attached keeping its primary key (the unique index of that partition). Its
-- sweeper's index on processed_at goes: a partition leaves whole.
alter table $schema$.inbox rename to inbox_before_partitioning;
drop index if exists $schema$.inbox_processed_at;

create table $schema$.inbox (
    consumer      text        not null,
    message_id    uuid        not null,
    processed_at  timestamptz not null default now()
) partition by range (processed_at);

do $body$
declare
    bound timestamptz := (select greatest(now(), max(processed_at) + interval '1 microsecond') from $schema$.inbox_before_partitioning);
begin
    execute format('alter table $schema$.inbox_before_partitioning add constraint inbox_before_partitioning_range check (processed_at < %L) not valid', bound);
    alter table $schema$.inbox_before_partitioning validate constraint inbox_before_partitioning_range;
    execute format('alter table $schema$.inbox attach partition $schema$.inbox_before_partitioning for values from (minvalue) to (%L)', bound);
end
$body$;

-- Where marks land until the service has created the partitions ahead: kept small (see 0002 in ingestion).
create table $schema$.inbox_default partition of $schema$.inbox default;
create unique index inbox_default_message on $schema$.inbox_default (consumer, message_id);
