-- The projects each team's events named, kept as a summary instead of grouped from every event on each read: the view
-- of 0005 made every GET /projects scan all of a team's events in the history, which a member could repeat at will.
--
-- ingestion.projects holds one row per (entity, project) with its newest event. Ingestion's ProjectSummary refreshes it
-- every Ingestion:Projects:RefreshEvery (10 s) with ingestion.refresh_projects: one grouped read of the events received
-- since the last refresh (found by a BRIN index on received_at, whose upkeep on insert is a few bytes per block range,
-- not an entry per row), never a write per event. It drops the rows whose newest event is older than the history
-- (Retention:History), as retention drops the events themselves. The view keeps its name and columns, so readers
-- (the Api) are unchanged.
create table ingestion.projects (
    entity          text not null,
    project         text not null,
    last_event_at   timestamptz not null,
    primary key (entity, project)
);
create index projects_last_event_at on ingestion.projects (last_event_at);

-- How far the events were summarised: one row.
create table ingestion.projects_scanned (
    one     boolean primary key default true check (one),
    upto    timestamptz not null
);

-- On the partitioned table, so every partition has it, those created ahead by retention included.
create index events_received_at_brin on ingestion.events using brin (received_at);

insert into ingestion.projects (entity, project, last_event_at)
select entity, project, max(received_at) from ingestion.events group by entity, project;
insert into ingestion.projects_scanned (upto) values (now());

-- One refresh; replicas take turns (the advisory lock), and a refresh that runs twice changes nothing. It reads from a
-- minute before the last one's start: an event's received_at is its Ingestion's clock before the commit, so one that
-- commits late (a group commit, a clock a little behind) is still counted. Answers the rows it added or moved.
create function ingestion.refresh_projects(keep interval) returns int
language plpgsql as $$
declare
    started timestamptz := now();
    since   timestamptz;
    changed int;
begin
    perform pg_advisory_xact_lock(hashtextextended('ingestion.refresh_projects', 0));
    select upto into since from ingestion.projects_scanned for update;
    insert into ingestion.projects as p (entity, project, last_event_at)
    select entity, project, max(received_at) from ingestion.events where received_at >= since - interval '1 minute' group by entity, project
    on conflict (entity, project) do update set last_event_at = excluded.last_event_at where excluded.last_event_at > p.last_event_at;
    get diagnostics changed = row_count;
    delete from ingestion.projects where last_event_at < started - keep;
    update ingestion.projects_scanned set upto = started;
    return changed;
end
$$;

create or replace view ingestion.event_projects as
select entity, project, last_event_at from ingestion.projects;
