-- The trace of the event that queued the item, so the agent's claim (and the run it starts) join that trace.
alter table launch.queue_items add column traceparent text;
