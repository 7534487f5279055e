-- Per-run state of run automations (docs/run-events.md), owned by Rules and written in the same transaction as the
-- inbox mark, the run and its command (RunEventConsumer): exact under redelivery and restart.
--
-- run_states: the last state each run reported, so that RUN_STATE fires when a run *enters* a state (not for a repeated
-- report of the same state, not for a report older than the one kept).
create table rules.run_states (
    entity       text not null,
    project      text not null,
    run_id       text not null,
    state        text not null,
    occurred_at  timestamptz not null,
    updated_at   timestamptz not null default now(),
    primary key (entity, project, run_id)
) with (fillfactor = 80);

-- run_metric_windows: per (automation, run, metric), the newest values and their steps in step order (at most the
-- condition's two windows, 200; a step already there is a replay: ignored) and whether the condition held at the last
-- evaluation (it fires when it starts to hold). Updated on every logged value: fillfactor leaves room for HOT updates.
create table rules.run_metric_windows (
    automation_id  uuid not null,
    run_id         text not null,
    metric         text not null,
    entity         text not null,
    project        text not null,
    steps          bigint[] not null,
    vals           double precision[] not null,
    active         boolean not null,
    updated_at     timestamptz not null default now(),
    primary key (automation_id, run_id, metric)
) with (fillfactor = 80);

-- Retention: state untouched for Rules:RunStateRetention is deleted in batches (RunStatePruner). No index on updated_at:
-- it would cost every update its HOT path; the pruner's scan runs once per Retention:CheckEvery.
