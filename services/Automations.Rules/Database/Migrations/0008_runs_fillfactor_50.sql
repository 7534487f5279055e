-- An outcome batch moves several runs of one page in one statement, so none of the old versions it leaves can be pruned
-- before the others need room: with fillfactor 80 (one run's new version per page) two thirds of the moves left the
-- page, each with a new entry in every index. Half of each page is room for all of its runs' new versions (a run is
-- about 850 bytes). New partitions get it from their DDL (Extensions.Runs); this sets it on those already made, for
-- the rows still to come (a storage parameter: no rewrite, a brief lock).
do $body$
declare
    part regclass;
begin
    for part in select inhrelid::regclass from pg_inherits where inhparent = 'rules.runs'::regclass loop
        execute format('alter table %s set (fillfactor = 50)', part);
    end loop;
end
$body$;
