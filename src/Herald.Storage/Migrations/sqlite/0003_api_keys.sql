-- API keys: only a hash of each key's secret is stored; the key is shown once, at creation.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    secret_hash  BLOB NOT NULL,
    scope_path   TEXT NOT NULL REFERENCES scopes(path) ON DELETE CASCADE,
    role         TEXT NOT NULL,
    name         TEXT,
    created_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
