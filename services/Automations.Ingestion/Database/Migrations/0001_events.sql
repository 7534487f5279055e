-- One row per accepted event; (entity, event_id) is the producer's dedupe key.
create table ingestion.events (
    id              uuid primary key,
    entity          text not null,
    event_id        text not null,
    event_type      text not null,
    project         text not null,
    collection      text not null,
    version_id      text,
    version_index   int,
    alias           text,
    tag             text,
    author          text,
    occurred_at     timestamptz not null,
    received_at     timestamptz not null default now(),
    source          text not null check (source in ('http', 'amqp')),
    metadata        jsonb,
    unique (entity, event_id)
);

-- Every refused AMQP message, kept with its raw body and the reason: never retried forever, never dropped unseen.
create table ingestion.rejected_events (
    id            bigint generated always as identity primary key,
    received_at   timestamptz not null default now(),
    source        text not null,
    routing_key   text,
    message_id    text,
    reason        text not null,
    raw_body      bytea not null
);
create index rejected_events_received_at on ingestion.rejected_events (received_at);
