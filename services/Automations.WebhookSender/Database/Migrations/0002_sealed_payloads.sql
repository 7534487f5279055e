-- How the payload encodes secret references: 1 = rendered before sealing (only `${` escaped, as `$${`), 2 = sealed
-- (`$$` is a `$`; `${NAME}` only ever a reference the automation's author wrote). Rows from before are 1.
alter table delivery.deliveries add column payload_format smallint not null default 1;
