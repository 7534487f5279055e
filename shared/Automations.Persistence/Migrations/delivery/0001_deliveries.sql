-- Owned by WebhookSender. (Tables are added by the webhook-sender issue.)
select 1;
