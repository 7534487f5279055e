-- Run automations (W&B's project automations on runs): the trigger types RUN_STATE, RUN_METRIC_THRESHOLD and
-- RUN_METRIC_CHANGE, and their run filter (state, run name regex, user, metric condition) as one JSON document, read
-- by Rules (Automations.Core.Runs.RunFilter). Existing automations keep their type and get no run filter.
alter table control.automations drop constraint automations_event_type_check;
alter table control.automations add constraint automations_event_type_check
    check (event_type in ('CREATE_ARTIFACT', 'LINK_ARTIFACT', 'ADD_ARTIFACT_ALIAS', 'RUN_STATE', 'RUN_METRIC_THRESHOLD', 'RUN_METRIC_CHANGE')) not valid;
alter table control.automations validate constraint automations_event_type_check;
alter table control.automations add column run_filter jsonb;
