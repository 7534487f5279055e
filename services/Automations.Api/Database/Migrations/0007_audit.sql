-- The audit trail (issue 24, docs/audit.md): one row per control-plane change, written by the Api in the transaction of
-- the change itself, so a change and its row commit (or roll back) together.
--
-- Retention (docs/operations.md "Retention"): partitioned by `at` as every other history table, and the Api drops a
-- partition once all of it is older than Retention:History (Extensions.AuditTable); the default partition catches rows
-- until the Api has created the partitions ahead, and is trimmed by the same pass.
--
-- `before` and `after` are the public JSON views the API answers with (never a secret value: a secret's view is its name
-- and that its value changed; a key's is its id, name, scopes and owner, never the key). `key_id` names the key the
-- caller used, never the key itself. No foreign keys: a row outlives the user, key or object it names.
create table control.audit (
    id           uuid        not null,
    entity_id    uuid        not null,
    at           timestamptz not null default now(),
    actor        text,
    actor_id     uuid,
    key_id       uuid,
    kind         text        not null,
    action       text        not null,
    target_id    uuid,
    target_name  text,
    project      text,
    before       jsonb,
    after        jsonb
) partition by range (at);

-- The trail of one team, newest first, in pages (AuditEndpoints): (at, id) is the cursor. Unique includes the partition
-- key, so it can be declared on the partitioned table and every partition gets it.
create unique index audit_entity_at_id on control.audit (entity_id, at desc, id desc);

create table control.audit_default partition of control.audit default;

-- Append-only: a row is never changed. Rows leave only whole, with their partition (or the default partition's trim).
create function control.audit_refuse_update() returns trigger language plpgsql as $fn$
begin
    raise exception 'control.audit is append-only: its rows are never updated' using errcode = 'restrict_violation';
end
$fn$;

create trigger audit_append_only before update on control.audit
    for each row execute function control.audit_refuse_update();
