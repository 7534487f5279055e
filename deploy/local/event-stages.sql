-- Where an event's time went, per second of events sent: from the producer's occurredAt to the sender's record of the
-- webhook's answer, split at the three commits on its path. Each time is the start of the transaction that wrote the
-- row (PostgreSQL's now()), so a stage ends when the next service began its write:
--   ingest   occurred_at → ingestion.events.received_at (the HTTP request, to Ingestion's write)
--   rules    → rules.runs.created_at (Ingestion's commit, the broker hop, Rules' consume and match)
--   sender   → delivery.deliveries.created_at (Rules' commit, the broker hop, the sender's consume)
--   post     → delivery.deliveries.completed_at (the sender's commit, the signed POST, its answer)
-- A stall of one component shows in the stage after it; a stall of PostgreSQL itself (every commit waiting) shows in
-- every stage but ingest at once. Reads the three services' schemas, so run it as an operator, on a quiet copy or a
-- short window:
--   psql "$DB" -v t0='2026-12-05 10:48:40+00' -v t1='2026-12-05 10:49:20+00' -f deploy/local/event-stages.sql
with x as (
  select e.occurred_at o, e.received_at r, ru.created_at c, d.created_at dc, d.completed_at dd
  from ingestion.events e
  join rules.runs ru on ru.event_id = e.id
  join delivery.deliveries d on d.run_id = ru.id
  where e.received_at between :'t0' and :'t1' and d.completed_at is not null)
select date_trunc('second', o) as second, count(*) as events,
  round(max(extract(epoch from dd - o)) * 1000) as total_max_ms,
  round(max(extract(epoch from r - o)) * 1000) as ingest_max,
  round(max(extract(epoch from c - r)) * 1000) as rules_max,
  round(max(extract(epoch from dc - c)) * 1000) as sender_max,
  round(max(extract(epoch from dd - dc)) * 1000) as post_max,
  round((percentile_cont(0.5) within group (order by extract(epoch from c - r)) * 1000)::numeric, 1) as rules_p50,
  round((percentile_cont(0.5) within group (order by extract(epoch from dc - c)) * 1000)::numeric, 1) as sender_p50,
  round((percentile_cont(0.5) within group (order by extract(epoch from dd - dc)) * 1000)::numeric, 1) as post_p50
from x group by 1 order by 1;
