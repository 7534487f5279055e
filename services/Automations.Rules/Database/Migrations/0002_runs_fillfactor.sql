-- A run is inserted, then moved on once by its outcome (status, reason, updated_at, finished_at: no indexed column).
-- Room left on each page lets that update stay on the page (a HOT update) instead of adding an entry to each of the
-- table's four indexes.
alter table rules.runs set (fillfactor = 80);
