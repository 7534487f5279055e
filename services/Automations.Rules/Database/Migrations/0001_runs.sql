-- Owned by Rules. One run per (automation, event): the unique key makes a redelivered event harmless.
create table rules.runs (
    id                 uuid primary key,
    automation_id      uuid not null,
    automation_name    text not null,
    entity             text not null,
    project            text not null,
    event_id           uuid not null,
    producer_event_id  text not null,
    event_type         text not null,
    event              jsonb not null,
    action_type        text not null check (action_type in ('webhook', 'launch')),
    webhook_id         uuid,
    job_id             uuid,
    job_version        int,
    queue_id           uuid,
    target_project     text,
    command_id         uuid not null unique,
    -- Rendered with event variables only: secret references are still ${NAME}.
    payload            text,
    status             text not null check (status in ('Pending', 'Enqueued', 'Finished', 'Failed')),
    reason             text,
    created_at         timestamptz not null default now(),
    updated_at         timestamptz not null default now(),
    finished_at        timestamptz,
    unique (automation_id, event_id)
);
-- History: one automation's runs, newest first.
create index runs_history on rules.runs (automation_id, created_at desc, id desc);
