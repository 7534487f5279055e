-- Owned by LaunchEnqueuer. One row per EnqueueLaunchJob command (command_id is the business key).
-- The job version's command, args and the merged run config are copied in at enqueue time, so editing the
-- job or the automation later never changes a run already queued, and agents need no access to control.
create table launch.queue_items (
    id                uuid primary key,
    command_id        uuid        not null unique,
    run_id            uuid        not null,
    event_id          uuid        not null,
    automation_id     uuid        not null,
    entity_id         uuid,
    entity            text        not null,
    project           text        not null,
    queue_id          uuid        not null,
    job_id            uuid        not null,
    job_name          text,
    job_version       int         not null,
    command           text,
    args              jsonb,
    run_config        jsonb,
    target_project    text,
    event             jsonb       not null,
    state             text        not null check (state in ('queued', 'claimed', 'running', 'finished', 'failed')),
    claims            int         not null default 0,
    lease_id          uuid,
    lease_expires_at  timestamptz,
    claimed_by        text,
    exit_code         int,
    failure_reason    text,
    created_at        timestamptz not null default now(),
    claimed_at        timestamptz,
    started_at        timestamptz,
    ended_at          timestamptz,
    updated_at        timestamptz not null default now()
);
-- Claim: oldest queued item of a queue.
create index queue_items_next on launch.queue_items (queue_id, created_at, id) where state = 'queued';
-- Sweeper: leases that may have expired.
create index queue_items_leases on launch.queue_items (lease_expires_at) where state in ('claimed', 'running');
-- Api listing per queue and state.
create index queue_items_by_queue on launch.queue_items (queue_id, state, created_at desc);
