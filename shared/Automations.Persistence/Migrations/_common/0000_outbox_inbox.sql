-- Every schema that publishes or consumes gets its own outbox and inbox ($schema$ is substituted).
create table if not exists $schema$.outbox (
    id            bigint generated always as identity primary key,
    message_id    uuid        not null,
    message_type  text        not null,
    body          jsonb       not null,
    traceparent   text,
    tracestate    text,
    created_at    timestamptz not null default now(),
    attempts      int         not null default 0,
    last_error    text
);

create table if not exists $schema$.inbox (
    consumer      text        not null,
    message_id    uuid        not null,
    processed_at  timestamptz not null default now(),
    primary key (consumer, message_id)
);
create index if not exists inbox_processed_at on $schema$.inbox (processed_at);
