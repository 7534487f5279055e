-- Team automations (W&B's team and registry scopes): an automation of the entity as a whole, watching every project
-- (those created later too), optionally narrowed by a project regex (a search, as the alias and tag regexes) and a
-- collection. Such a row has scope 'team' and no project; admins alone create and change it (the Api checks).
--
-- Existing rows are project automations: the column's constant default fills them without a rewrite, dropping NOT NULL
-- is a catalog change, and the check is added NOT VALID then validated (a read, not a rewrite). A project
-- automation keeps its unique (entity_id, project, name); a team automation's name is unique in its entity.
alter table control.automations
    add column scope         text not null default 'project' constraint automations_scope_check check (scope in ('project', 'team')),
    add column project_regex text;
alter table control.automations alter column project drop not null;
alter table control.automations add constraint automations_scope_project_check
    check (case when scope = 'team' then project is null else project is not null and project_regex is null end) not valid;
alter table control.automations validate constraint automations_scope_project_check;
create unique index automations_team_name on control.automations (entity_id, name) where scope = 'team';
-- Rules loads an entity's enabled team automations once (not per project): this index serves that query.
create index automations_team_match on control.automations (entity_id) where enabled and scope = 'team';
