-- What other services may read of the events: the projects each team's events named, and when the last one came (the
-- Api's project list: docs/api.md, GET /projects). Grouped per team; the dedupe index of each partition starts with
-- entity, so a team's rows are found without reading other teams'. Ingestion may reshape its table behind this view.
create view ingestion.event_projects as
select entity, project, max(received_at) as last_event_at
from ingestion.events
group by entity, project;
