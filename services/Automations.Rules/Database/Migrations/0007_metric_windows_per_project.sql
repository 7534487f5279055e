-- A team automation (control 0005) watches runs of many projects, and a run id is unique within its project only: two
-- projects' runs with the same id and metric must not share one window. The key gains the project (the entity is the
-- automation's own). The table holds at most one row per automation, run and metric, kept for Rules:RunStateRetention:
-- the new key is built from it in one short step, every row keeps its place.
alter table rules.run_metric_windows drop constraint run_metric_windows_pkey;
alter table rules.run_metric_windows add constraint run_metric_windows_pkey primary key (automation_id, project, run_id, metric);
