-- Administrators who sign in to the web console: a name, the scope they administer (/ for
-- everything, /hr for that scope and below) and a slow hash of their password. Failed sign-ins
-- are counted here, not in memory, so that a lock-out holds on every node and across restarts.
-- PostgreSQL twin of sqlite/0006_console.sql (types as explained in 0001_foundation.sql).
CREATE TABLE administrators (
    name             TEXT COLLATE "C" PRIMARY KEY,
    scope_path       TEXT COLLATE "C" NOT NULL REFERENCES scopes(path) ON DELETE CASCADE,
    password_hash    TEXT COLLATE "C" NOT NULL,
    failed_attempts  INTEGER NOT NULL,
    locked_until     BIGINT,
    created_at       BIGINT NOT NULL
);
