-- Operational alerts (docs/alerts.md). Both tables are written in the statement that records an attempt, so a
-- delivery's outcome, its webhook's health and the incident (with its outbox messages) commit together.

-- Per webhook (a notification integration is a webhook of another kind): how it has been failing since its last
-- success. consecutive_failures counts deliveries whose every attempt failed, in a row; failing_since is the first
-- failed attempt after the last success. A row exists once the webhook has failed; a success resets it (and is the
-- only success that writes here: last_success_at is the success that ended a failing streak).
create table delivery.webhook_health (
    webhook_id           uuid primary key,
    entity               text not null,
    consecutive_failures int not null default 0,
    failing_since        timestamptz,
    last_success_at      timestamptz,
    updated_at           timestamptz not null default now()
);

-- One row per incident: opened once when a threshold is crossed, closed once by the next success, disabled_at set
-- when the webhook was disabled for failing longer than the team's disableAfter.
create table delivery.incidents (
    id              uuid primary key,
    entity          text not null,
    webhook_id      uuid not null,
    failing_since   timestamptz not null,
    opened_at       timestamptz not null default now(),
    reason          text not null,
    closed_at       timestamptz,
    disabled_at     timestamptz,
    disabled_reason text
);
-- At most one open incident per webhook: two replicas (or a redelivered message) crossing the threshold together
-- open it once.
create unique index incidents_one_open on delivery.incidents (webhook_id) where closed_at is null;
create index incidents_webhook on delivery.incidents (webhook_id, opened_at desc);

-- What the Api reads (GET /webhooks/{id}/incidents, enable with redeliverFailed).
create view delivery.incident_history as
select id, entity, webhook_id, failing_since, opened_at, reason, closed_at, disabled_at, disabled_reason
from delivery.incidents;
