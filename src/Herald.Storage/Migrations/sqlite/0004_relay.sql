-- Relay listeners (keyed by their listen endpoint, e.g. 127.0.0.1:2525 or [::1]:2525) and relay
-- accounts. Lists (access entries, domains) are stored one per line; access and auth modes by
-- their written names (only-list, all-except; none, required). Only a PBKDF2 hash of an
-- account's password is stored.
CREATE TABLE relay_listeners (
    listen             TEXT PRIMARY KEY,
    scope_path         TEXT NOT NULL REFERENCES scopes(path) ON DELETE CASCADE,
    access             TEXT NOT NULL,
    entries            TEXT NOT NULL,
    auth               TEXT NOT NULL,
    sender_domains     TEXT NOT NULL,
    recipient_domains  TEXT NOT NULL,
    auth_without_tls   INTEGER NOT NULL,
    updated_at         INTEGER NOT NULL
);

CREATE TABLE relay_accounts (
    user_name      TEXT PRIMARY KEY,
    scope_path     TEXT NOT NULL REFERENCES scopes(path) ON DELETE CASCADE,
    password_hash  TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);
