-- Operational alerts per team (docs/alerts.md): when a failing webhook opens an incident, when it is disabled, and
-- where the team's admins are told. No row: the sender's defaults (Alerts:ConsecutiveFailures, Alerts:FailingFor,
-- Alerts:DisableAfter) and no channel. The channel is a webhook of the team (a notification integration or an
-- operational webhook); deleting it leaves the team without a channel.
create table control.alert_settings (
    entity_id            uuid primary key references control.entities(id) on delete cascade,
    consecutive_failures int not null,
    failing_for          interval not null,
    disable_after        interval not null,
    channel_webhook_id   uuid references control.webhooks(id) on delete set null,
    updated_at           timestamptz not null default now()
);
