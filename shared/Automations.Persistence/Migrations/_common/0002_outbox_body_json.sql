-- An outbox body is written once, read back as text by the relay (or never, on the direct path) and deleted within
-- milliseconds: json keeps the text as it came (validated, not parsed into jsonb's binary form and printed again).
-- Every hot-path statement writes one of these, so a conversion here would be paid for every event.
alter table $schema$.outbox alter column body type json using body::json;
