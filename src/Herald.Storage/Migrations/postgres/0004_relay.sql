-- Relay listeners and relay accounts.
-- PostgreSQL twin of sqlite/0004_relay.sql (types as explained in 0001_foundation.sql).
CREATE TABLE relay_listeners (
    listen             TEXT COLLATE "C" PRIMARY KEY,
    scope_path         TEXT COLLATE "C" NOT NULL REFERENCES scopes(path) ON DELETE CASCADE,
    access             TEXT COLLATE "C" NOT NULL,
    entries            TEXT COLLATE "C" NOT NULL,
    auth               TEXT COLLATE "C" NOT NULL,
    sender_domains     TEXT COLLATE "C" NOT NULL,
    recipient_domains  TEXT COLLATE "C" NOT NULL,
    auth_without_tls   INTEGER NOT NULL,
    updated_at         BIGINT NOT NULL
);

CREATE TABLE relay_accounts (
    user_name      TEXT COLLATE "C" PRIMARY KEY,
    scope_path     TEXT COLLATE "C" NOT NULL REFERENCES scopes(path) ON DELETE CASCADE,
    password_hash  TEXT COLLATE "C" NOT NULL,
    created_at     BIGINT NOT NULL
);
