-- API keys: only a hash of each key's secret is stored; the key is shown once, at creation.
-- PostgreSQL twin of sqlite/0003_api_keys.sql (types as explained in 0001_foundation.sql).
CREATE TABLE api_keys (
    id           TEXT COLLATE "C" PRIMARY KEY,
    secret_hash  BYTEA NOT NULL,
    scope_path   TEXT COLLATE "C" NOT NULL REFERENCES scopes(path) ON DELETE CASCADE,
    role         TEXT COLLATE "C" NOT NULL,
    name         TEXT COLLATE "C",
    created_at   BIGINT NOT NULL,
    revoked_at   BIGINT
);
