-- Scopes, SMTP connections, scope outgoing settings, sealed secrets and the credential key.
-- PostgreSQL twin of sqlite/0001_foundation.sql: same tables, columns and constraints. Times
-- (*_at, milliseconds since 1970) and durations (*_ms) are BIGINT; flags stay INTEGER 0/1 like
-- SQLite's, so the stores' SQL and row mapping are shared. Text is COLLATE "C": comparisons and
-- ORDER BY are by code point, as SQLite's BINARY, whatever the database's default collation.
CREATE TABLE scopes (
    path        TEXT COLLATE "C" PRIMARY KEY,
    created_at  BIGINT NOT NULL
);
INSERT INTO scopes (path, created_at) VALUES ('/', 0);

CREATE TABLE smtp_connections (
    name                    TEXT COLLATE "C" PRIMARY KEY,
    host                    TEXT COLLATE "C" NOT NULL,
    port                    INTEGER NOT NULL,
    security                TEXT COLLATE "C" NOT NULL,
    username                TEXT COLLATE "C",
    mechanisms              TEXT COLLATE "C" NOT NULL,
    client_cert_subject     TEXT COLLATE "C",
    client_cert_thumbprint  TEXT COLLATE "C",
    client_cert_not_after   BIGINT,
    trust_mode              TEXT COLLATE "C" NOT NULL,
    trust_ca_pem            TEXT COLLATE "C",
    trust_thumbprint        TEXT COLLATE "C",
    connect_timeout_ms      BIGINT NOT NULL,
    command_timeout_ms      BIGINT NOT NULL,
    connection_limit        INTEGER NOT NULL,
    rate_limit_per_minute   INTEGER,
    node_tags               TEXT COLLATE "C" NOT NULL,
    updated_at              BIGINT NOT NULL
);

CREATE TABLE outgoing_settings (
    scope_path       TEXT COLLATE "C" PRIMARY KEY REFERENCES scopes(path) ON DELETE CASCADE,
    enabled          INTEGER,
    connection_name  TEXT COLLATE "C" REFERENCES smtp_connections(name),
    from_address     TEXT COLLATE "C",
    from_name        TEXT COLLATE "C",
    reply_to         TEXT COLLATE "C",
    charset          TEXT COLLATE "C",
    impersonation    TEXT COLLATE "C",
    updated_at       BIGINT NOT NULL
);

-- Every secret, sealed with the credential key and bound to its name; rotation re-seals this table.
CREATE TABLE secrets (
    name        TEXT COLLATE "C" PRIMARY KEY,
    ciphertext  BYTEA NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE TABLE credential_key (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    salt         BYTEA NOT NULL,
    iterations   INTEGER NOT NULL,
    check_value  BYTEA NOT NULL,
    updated_at   BIGINT NOT NULL
);
