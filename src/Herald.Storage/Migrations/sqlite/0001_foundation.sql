-- Scopes, SMTP connections, scope outgoing settings, sealed secrets and the credential key.
CREATE TABLE scopes (
    path        TEXT PRIMARY KEY,
    created_at  INTEGER NOT NULL
);
INSERT INTO scopes (path, created_at) VALUES ('/', 0);

CREATE TABLE smtp_connections (
    name                    TEXT PRIMARY KEY,
    host                    TEXT NOT NULL,
    port                    INTEGER NOT NULL,
    security                TEXT NOT NULL,
    username                TEXT,
    mechanisms              TEXT NOT NULL,
    client_cert_subject     TEXT,
    client_cert_thumbprint  TEXT,
    client_cert_not_after   INTEGER,
    trust_mode              TEXT NOT NULL,
    trust_ca_pem            TEXT,
    trust_thumbprint        TEXT,
    connect_timeout_ms      INTEGER NOT NULL,
    command_timeout_ms      INTEGER NOT NULL,
    connection_limit        INTEGER NOT NULL,
    rate_limit_per_minute   INTEGER,
    node_tags               TEXT NOT NULL,
    updated_at              INTEGER NOT NULL
);

CREATE TABLE outgoing_settings (
    scope_path       TEXT PRIMARY KEY REFERENCES scopes(path) ON DELETE CASCADE,
    enabled          INTEGER,
    connection_name  TEXT REFERENCES smtp_connections(name),
    from_address     TEXT,
    from_name        TEXT,
    reply_to         TEXT,
    charset          TEXT,
    impersonation    TEXT,
    updated_at       INTEGER NOT NULL
);

-- Every secret, sealed with the credential key and bound to its name; rotation re-seals this table.
CREATE TABLE secrets (
    name        TEXT PRIMARY KEY,
    ciphertext  BLOB NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE TABLE credential_key (
    id           INTEGER PRIMARY KEY CHECK (id = 1),
    salt         BLOB NOT NULL,
    iterations   INTEGER NOT NULL,
    check_value  BLOB NOT NULL,
    updated_at   INTEGER NOT NULL
);
