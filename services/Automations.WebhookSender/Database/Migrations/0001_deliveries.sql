-- Owned by WebhookSender.
-- One row per SendWebhook command (unique on command_id), created before the first attempt. The retry schedule lives
-- here: a pending delivery is due at next_attempt_at. Whoever works on a delivery sets a fresh claim token and pushes
-- next_attempt_at out by a lease, so a replica that dies mid-attempt only delays it until the lease runs out.
create table delivery.deliveries (
    id               uuid primary key,
    command_id       uuid not null unique,
    run_id           uuid not null,
    event_id         uuid not null,
    automation_id    uuid not null,
    entity           text not null,
    project          text not null,
    webhook_id       uuid not null,
    -- The payload with secret references (${NAME}) still unresolved: a rendered body (with secret values) is never stored.
    payload          text not null,
    status           text not null check (status in ('pending', 'succeeded', 'failed')),
    attempts         int  not null default 0,
    max_attempts     int  not null,
    next_attempt_at  timestamptz,
    claim            uuid,
    -- Set by a redelivery by hand: the next attempt is logged as manual.
    manual_pending   boolean not null default false,
    last_status_code int,
    last_error       text,
    traceparent      text,
    occurred_at      timestamptz not null,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    completed_at     timestamptz
);
create index deliveries_due on delivery.deliveries (next_attempt_at) where status = 'pending';
create index deliveries_webhook on delivery.deliveries (webhook_id, created_at);

create table delivery.attempts (
    id               bigint generated always as identity primary key,
    delivery_id      uuid not null references delivery.deliveries(id) on delete cascade,
    number           int  not null,
    manual           boolean not null default false,
    started_at       timestamptz not null,
    duration_ms      double precision not null,
    status_code      int,
    response_headers jsonb,
    response_body    text,
    error            text,
    next_attempt_at  timestamptz
);
create index attempts_delivery on delivery.attempts (delivery_id, number);

-- What the sender learned about a webhook (410 Gone). An admin re-enabling the webhook in the Api bumps
-- control.webhooks.updated_at past disabled_at, which lifts this state.
create table delivery.webhook_states (
    webhook_id       uuid primary key,
    entity           text not null,
    disabled_at      timestamptz not null,
    disabled_reason  text not null
);
