-- Automations as code (issue 24): a configuration file names an integration's URL by the team secret that holds it
-- (`urlSecret`), never the URL itself. The Api copies the secret's value into the integration's own encrypted URL when it
-- applies the file, and remembers which secret it came from, so that an export names that secret again and a plan can
-- tell when the secret's value changed since. Null for integrations whose URL was given directly, and for every row
-- this script finds (a running deployment upgrading): they keep working, and an export leaves `urlSecret` out.
-- Deleting the secret forgets the reference only; the integration keeps its encrypted copy of the URL.
alter table control.webhooks
    add column url_secret_id uuid references control.secrets(id) on delete set null;
alter table control.webhooks
    add constraint webhooks_url_secret_check check (url_secret_id is null or kind <> 'generic');
