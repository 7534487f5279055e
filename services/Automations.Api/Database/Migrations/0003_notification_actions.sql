-- Notification integrations and the no-op action (issue 23).
--
-- An integration is a webhook of another kind: Slack or Teams incoming webhooks go through the WebhookSender's
-- pipeline (durable retries, attempt log, redelivery, SSRF guard) like any webhook. Their URL is itself the credential,
-- so it is kept as team secrets are (AES-256-GCM under a master key, associated data `<entity>/webhook-url/<id>`), and
-- `url` holds only its shown form. Existing rows are plain webhooks (`generic`): the column's default fills them
-- without a rewrite.
alter table control.webhooks
    add column kind           text not null default 'generic',
    add column url_key_id     text,
    add column url_nonce      bytea,
    add column url_ciphertext bytea,
    add column url_tag        bytea;
alter table control.webhooks
    add constraint webhooks_kind_check check (kind in ('generic', 'slack', 'teams')),
    add constraint webhooks_secret_url_check check ((kind = 'generic') = (url_ciphertext is null));

-- `no_op` (W&B's DoNothing) records a run and sends nothing; `notification` (W&B's SendNotification) posts title, text
-- and severity to an integration (webhook_id), rendered into `payload` when saved.
alter table control.automations drop constraint automations_action_type_check;
alter table control.automations
    add constraint automations_action_type_check check (action_type in ('webhook', 'launch', 'no_op', 'notification')),
    add column notification_title    text,
    add column notification_text     text,
    add column notification_severity text constraint automations_notification_severity_check
        check (notification_severity in ('info', 'warning', 'error'));
