-- The control plane: owned by the Api. Workers only read it.
create table control.entities (
    id          uuid primary key,
    name        text not null unique,
    created_at  timestamptz not null default now()
);

create table control.users (
    id          uuid primary key,
    name        text not null unique,
    email       text,
    created_at  timestamptz not null default now()
);

create table control.memberships (
    entity_id   uuid not null references control.entities(id) on delete cascade,
    user_id     uuid not null references control.users(id) on delete cascade,
    role        text not null check (role in ('admin', 'member')),
    created_at  timestamptz not null default now(),
    primary key (entity_id, user_id)
);

-- Only the SHA-256 of a key is kept. A key for a person (user_id set) acts with that person's role in the entity;
-- a producer or agent key (user_id null) has only its scopes.
create table control.api_keys (
    id            uuid primary key,
    entity_id     uuid not null references control.entities(id) on delete cascade,
    user_id       uuid references control.users(id) on delete cascade,
    name          text not null,
    key_hash      text not null unique,
    display       text not null,
    scopes        text[] not null,
    created_at    timestamptz not null default now(),
    revoked_at    timestamptz,
    last_used_at  timestamptz
);
create index api_keys_entity on control.api_keys (entity_id);

-- Secret values: AES-256-GCM under a master key named by key_id (rotation re-encrypts rows).
create table control.secrets (
    id          uuid primary key,
    entity_id   uuid not null references control.entities(id) on delete cascade,
    name        text not null,
    key_id      text not null,
    nonce       bytea not null,
    ciphertext  bytea not null,
    tag         bytea not null,
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now(),
    unique (entity_id, name)
);

create table control.webhooks (
    id                      uuid primary key,
    entity_id               uuid not null references control.entities(id) on delete cascade,
    name                    text not null,
    url                     text not null,
    secret_id               uuid references control.secrets(id) on delete restrict,
    access_token_secret_id  uuid references control.secrets(id) on delete restrict,
    disabled_at             timestamptz,
    disabled_reason         text,
    created_at              timestamptz not null default now(),
    updated_at              timestamptz not null default now(),
    unique (entity_id, name)
);

create table control.launch_queues (
    id          uuid primary key,
    entity_id   uuid not null references control.entities(id) on delete cascade,
    name        text not null,
    description text,
    created_at  timestamptz not null default now(),
    unique (entity_id, name)
);

create table control.launch_jobs (
    id          uuid primary key,
    entity_id   uuid not null references control.entities(id) on delete cascade,
    name        text not null,
    description text,
    created_at  timestamptz not null default now(),
    unique (entity_id, name)
);

-- A job version is a run template: a command, its arguments, and the default run config.
create table control.launch_job_versions (
    job_id          uuid not null references control.launch_jobs(id) on delete cascade,
    version         int  not null,
    command         text not null,
    args            jsonb not null default '[]',
    default_config  jsonb not null default '{}',
    created_at      timestamptz not null default now(),
    primary key (job_id, version)
);

create table control.automations (
    id              uuid primary key,
    entity_id       uuid not null references control.entities(id) on delete cascade,
    project         text not null,
    name            text not null,
    description     text,
    enabled         boolean not null default true,
    event_type      text not null check (event_type in ('CREATE_ARTIFACT', 'LINK_ARTIFACT', 'ADD_ARTIFACT_ALIAS')),
    collection      text,
    alias_regex     text,
    tag_regex       text,
    action_type     text not null check (action_type in ('webhook', 'launch')),
    webhook_id      uuid references control.webhooks(id) on delete restrict,
    payload         text,
    job_id          uuid references control.launch_jobs(id) on delete restrict,
    job_version     int,
    queue_id        uuid references control.launch_queues(id) on delete restrict,
    target_project  text,
    overrides       jsonb,
    created_by      uuid references control.users(id) on delete set null,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    unique (entity_id, project, name)
);
-- Matching: (entity, project, event type, collection) so the cost does not grow with other projects' automations.
create index automations_match on control.automations (entity_id, project, event_type, collection) where enabled;
