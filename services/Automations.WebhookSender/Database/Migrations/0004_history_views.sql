-- What other services may read of deliveries and attempts: the Api's delivery history reads these views, never the
-- tables, so the sender can reshape its tables (partition them by time, archive old rows) by changing the views and
-- keeping their columns.
create view delivery.delivery_history as
select id, command_id, run_id, event_id, automation_id, webhook_id, entity, project, status, attempts, next_attempt_at,
       last_status_code, last_error, payload, created_at, completed_at
from delivery.deliveries;

-- A response is shown only when it was stored with the request's secret values masked (0003): an older one may hold
-- an echoed secret, so it never leaves the sender's schema.
create view delivery.attempt_history as
select delivery_id, number, manual, started_at, duration_ms, status_code,
       case when response_masked then response_headers end as response_headers,
       case when response_masked then response_body end as response_body,
       response_truncated, error, next_attempt_at
from delivery.attempts;
