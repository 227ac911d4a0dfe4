-- The outbox: every message Herald has acknowledged, one row per recipient with its delivery
-- state, and the history of attempts. A message is "pending" while any recipient is queued or
-- deferred; delivery workers claim pending messages with a lease.
CREATE TABLE messages (
    id                 TEXT PRIMARY KEY,
    scope_path         TEXT NOT NULL,
    source             TEXT NOT NULL,
    envelope_sender    TEXT NOT NULL,
    connection_name    TEXT,
    message_id_header  TEXT NOT NULL,
    mime               BLOB NOT NULL,
    size_bytes         INTEGER NOT NULL,
    idempotency_key    TEXT,
    state              TEXT NOT NULL,
    attempts           INTEGER NOT NULL,
    next_attempt_at    INTEGER NOT NULL,
    lease_owner        TEXT,
    lease_until        INTEGER,
    created_at         INTEGER NOT NULL,
    expires_at         INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_idempotency ON messages (scope_path, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE state = 'pending';
CREATE INDEX messages_scope_created ON messages (scope_path, created_at);

CREATE TABLE recipients (
    message_id  TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    ordinal     INTEGER NOT NULL,
    address     TEXT NOT NULL,
    state       TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    last_code   INTEGER,
    last_reply  TEXT,
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (message_id, ordinal)
);
CREATE INDEX recipients_state ON recipients (state);
CREATE INDEX recipients_address ON recipients (address);

CREATE TABLE delivery_attempts (
    message_id  TEXT NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    ordinal     INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    node        TEXT NOT NULL,
    outcome     TEXT NOT NULL,
    code        INTEGER,
    reply       TEXT,
    PRIMARY KEY (message_id, ordinal, attempt)
);
