-- Owned by Rules. (Tables are added by the rules issue; this script only makes the schema's outbox and inbox exist.)
select 1;
