-- Run events (RUN_STATE, RUN_METRIC) are stored beside artifact events in ingestion.events: one dedupe key per entity
-- for every producer event (eventId), one retention. They have no collection; the run's user goes to `author` (who
-- did it, as for an artifact event). On a partitioned table these are catalog changes only: dropping NOT NULL and
-- adding nullable columns without a default rewrite no partition and keep every stored row as it is.
alter table ingestion.events alter column collection drop not null;
alter table ingestion.events
    add column run_id    text,
    add column run_name  text,
    add column run_state text,
    add column run_tags  jsonb,
    add column step      bigint,
    add column metrics   jsonb;
