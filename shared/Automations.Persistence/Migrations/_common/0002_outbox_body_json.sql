-- An outbox body is written once, read back as text by the relay (or never, on the direct path) and deleted within
-- milliseconds: json keeps the text as it came (validated, not parsed into jsonb's binary form and printed again).
-- pg_stat_statements at 300 events/s: every hot-path statement writes one of these.
alter table $schema$.outbox alter column body type json using body::json;
