-- Claims that name the connections they take (a node with tags, or connections that are down and
-- whose backlog waits) read one ordered range of this index per connection and stop after a claim
-- batch, instead of walking the due index past every due message of the connections they leave
-- out. Additive: nodes of the previous version keep using messages_due.
CREATE INDEX messages_due_by_connection ON messages (connection_name, next_attempt_at) WHERE state = 'pending';
