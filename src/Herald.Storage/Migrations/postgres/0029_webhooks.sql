-- PostgreSQL twin of sqlite/0029_webhooks.sql (types as explained in 0001_foundation.sql).
-- Webhooks: per scope, endpoints that are told about recipient state changes and finished
-- events, signed as Standard Webhooks says (the secret is in `secrets`, sealed with the
-- credential key, under webhook/{id}/secret). event_types: space-separated; empty means all.
--
-- webhook_deliveries is an outbox of its own: each row is written in the transaction that
-- records the change it reports, so a crash never loses one; it is claimed with a lease like a
-- message. seq orders a message's changes (order_key): a delivery is claimed only when no
-- earlier one of the same order_key for the same endpoint is undelivered.
-- webhook_attempts is each endpoint's log, pruned to its last attempts.
--
-- Additive: a node of the previous release ignores these tables (and sends no webhooks).
CREATE TABLE webhook_endpoints (
    id               TEXT COLLATE "C" PRIMARY KEY,
    scope_path       TEXT COLLATE "C" NOT NULL,
    url              TEXT COLLATE "C" NOT NULL,
    description      TEXT COLLATE "C" NOT NULL,
    event_types      TEXT COLLATE "C" NOT NULL,
    enabled          INTEGER NOT NULL,
    failing_since    BIGINT,
    disabled_reason  TEXT COLLATE "C",
    created_at       BIGINT NOT NULL,
    created_by       TEXT COLLATE "C" NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_scope ON webhook_endpoints (scope_path, id);

CREATE TABLE webhook_deliveries (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id               TEXT COLLATE "C" NOT NULL,
    endpoint_id      TEXT COLLATE "C" NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    order_key        TEXT COLLATE "C" NOT NULL,
    type             TEXT COLLATE "C" NOT NULL,
    subject          TEXT COLLATE "C" NOT NULL,
    payload          TEXT COLLATE "C" NOT NULL,
    state            TEXT COLLATE "C" NOT NULL,
    attempts         INTEGER NOT NULL,
    failures         INTEGER NOT NULL,
    created_at       BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    lease_owner      TEXT COLLATE "C",
    lease_until      BIGINT,
    last_status      INTEGER,
    last_reply       TEXT COLLATE "C",
    delivered_at     BIGINT,
    updated_at       BIGINT NOT NULL
);
CREATE UNIQUE INDEX webhook_deliveries_id ON webhook_deliveries (id);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE state = 'pending';
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (endpoint_id, order_key, seq);
CREATE INDEX webhook_deliveries_delivered ON webhook_deliveries (delivered_at) WHERE state = 'delivered';

CREATE TABLE webhook_attempts (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    endpoint_id   TEXT COLLATE "C" NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    delivery_seq  BIGINT NOT NULL,
    delivery_id   TEXT COLLATE "C" NOT NULL,
    type          TEXT COLLATE "C" NOT NULL,
    at            BIGINT NOT NULL,
    status        INTEGER,
    succeeded     INTEGER NOT NULL,
    reply         TEXT COLLATE "C" NOT NULL
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, id);
