-- response_masked: the response was stored with the request's secret values masked. Attempts recorded before (or by a
-- sender not yet upgraded, during a rolling upgrade) may hold an echoed secret: their response is dropped here, and the
-- Api shows the response of masked attempts only. response_truncated: the body went on past the stored excerpt.
alter table delivery.attempts add column response_masked boolean not null default false;
alter table delivery.attempts add column response_truncated boolean not null default false;
update delivery.attempts set response_body = null, response_headers = null where response_body is not null or response_headers is not null;
