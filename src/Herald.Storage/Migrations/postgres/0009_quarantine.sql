-- PostgreSQL twin of sqlite/0009_quarantine.sql (times as BIGINT milliseconds, text COLLATE "C", as in 0001).
-- Quarantine: an event, a message or a digest that fails for a reason of its own (a template
-- that divides by zero, MIME that cannot be parsed, a bug) is retried with backoff and, after a
-- configurable number of tries, set 'failed' with its reason until an administrator retries it.
-- Additive only, so that nodes of the previous version keep working during a rolling upgrade:
-- they never claim a 'failed' row (they claim 'pending' ones), and rows they write get the
-- defaults below. Upstream failures (4xx, connection, TLS) are not counted here: a deferred
-- recipient stays deferred, as before.

-- Messages: state 'pending' | 'done' | 'failed'; a quarantined message's pending recipients are
-- 'failed' too, with the reason as their last reply.
ALTER TABLE messages ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE messages ADD COLUMN last_error TEXT COLLATE "C";
CREATE INDEX messages_failed ON messages (scope_path) WHERE state = 'failed';

-- Events: state 'pending' | 'done' | 'failed'. A failed try gives the lease back with lease_until
-- at the time of the next try, as an event whose scope cannot send is given back today.
ALTER TABLE notification_events ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notification_events ADD COLUMN last_error TEXT COLLATE "C";
CREATE INDEX notification_events_failed ON notification_events (scope_path) WHERE state = 'failed';

-- Digest runs: one row per window and recipient. 'sent' is what every row meant so far; a window
-- whose digest failed is 'retrying' (tried again from next_attempt_at) or, once quarantined,
-- 'failed'; window_start is kept so that a retry renders the same window.
ALTER TABLE digest_runs ADD COLUMN state TEXT COLLATE "C" NOT NULL DEFAULT 'sent';
ALTER TABLE digest_runs ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE digest_runs ADD COLUMN last_error TEXT COLLATE "C";
ALTER TABLE digest_runs ADD COLUMN next_attempt_at BIGINT;
ALTER TABLE digest_runs ADD COLUMN window_start BIGINT;
CREATE INDEX digest_runs_unsent ON digest_runs (subscription_id) WHERE state <> 'sent';
