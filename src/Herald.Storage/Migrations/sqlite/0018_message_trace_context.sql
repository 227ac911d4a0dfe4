-- The trace a message was accepted in (W3C traceparent: the API request's or the relay
-- session's span), so that its delivery attempts, on any node and however much later, continue
-- the same trace. Null when nothing was tracing at acceptance.
--
-- Additive and nullable: a node of the previous release neither writes nor reads it, and its
-- messages simply start a trace of their own when delivered.
ALTER TABLE messages ADD COLUMN trace_parent TEXT;
