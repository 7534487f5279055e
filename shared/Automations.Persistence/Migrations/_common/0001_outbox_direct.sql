-- The direct path (OutboxPublisher): the writer publishes its rows right after commit and deletes them in batches by
-- message id; the relay takes a row only from available_at on (later than now for direct-path rows).
alter table $schema$.outbox add column if not exists available_at timestamptz not null default now();
create index if not exists outbox_message_id on $schema$.outbox (message_id);
