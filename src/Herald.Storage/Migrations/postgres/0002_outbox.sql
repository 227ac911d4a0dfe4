-- The outbox: every message Herald has acknowledged, one row per recipient with its delivery
-- state, and the history of attempts. A message is "pending" while any recipient is queued or
-- deferred; delivery workers claim pending messages with a lease.
-- PostgreSQL twin of sqlite/0002_outbox.sql (types as explained in 0001_foundation.sql; the
-- message size is BIGINT too).
CREATE TABLE messages (
    id                 TEXT COLLATE "C" PRIMARY KEY,
    scope_path         TEXT COLLATE "C" NOT NULL,
    source             TEXT COLLATE "C" NOT NULL,
    envelope_sender    TEXT COLLATE "C" NOT NULL,
    connection_name    TEXT COLLATE "C",
    message_id_header  TEXT COLLATE "C" NOT NULL,
    mime               BYTEA NOT NULL,
    size_bytes         BIGINT NOT NULL,
    idempotency_key    TEXT COLLATE "C",
    state              TEXT COLLATE "C" NOT NULL,
    attempts           INTEGER NOT NULL,
    next_attempt_at    BIGINT NOT NULL,
    lease_owner        TEXT COLLATE "C",
    lease_until        BIGINT,
    created_at         BIGINT NOT NULL,
    expires_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL
);
CREATE UNIQUE INDEX messages_idempotency ON messages (scope_path, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX messages_due ON messages (next_attempt_at) WHERE state = 'pending';
CREATE INDEX messages_scope_created ON messages (scope_path, created_at);

CREATE TABLE recipients (
    message_id  TEXT COLLATE "C" NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    ordinal     INTEGER NOT NULL,
    address     TEXT COLLATE "C" NOT NULL,
    state       TEXT COLLATE "C" NOT NULL,
    attempts    INTEGER NOT NULL,
    last_code   INTEGER,
    last_reply  TEXT COLLATE "C",
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (message_id, ordinal)
);
CREATE INDEX recipients_state ON recipients (state);
CREATE INDEX recipients_address ON recipients (address);

CREATE TABLE delivery_attempts (
    message_id  TEXT COLLATE "C" NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    ordinal     INTEGER NOT NULL,
    attempt     INTEGER NOT NULL,
    at          BIGINT NOT NULL,
    node        TEXT COLLATE "C" NOT NULL,
    outcome     TEXT COLLATE "C" NOT NULL,
    code        INTEGER,
    reply       TEXT COLLATE "C",
    PRIMARY KEY (message_id, ordinal, attempt)
);
