-- Dead letters: recipients in a final state that an administrator may bring back (expired,
-- bounced, failed, suppressed), newest first, within a time range. The list reads one range of
-- this index per state instead of every recipient of that state, and a time range narrows it.
-- Additive: an index; nodes of the previous release keep using recipients_state.
CREATE INDEX recipients_state_updated ON recipients (state, updated_at);
