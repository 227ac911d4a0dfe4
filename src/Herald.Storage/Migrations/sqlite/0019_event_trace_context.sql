-- The trace an event was posted in (W3C traceparent), so that its fan-out — on whichever node
-- claims it — continues the POST's trace, as a message's delivery continues its submission's.
--
-- Additive: a node of the previous release inserts events without it (their fan-out starts a
-- trace of its own) and never reads it.
ALTER TABLE notification_events ADD COLUMN trace_parent TEXT;
