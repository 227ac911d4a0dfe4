-- Administrators who sign in to the web console: a name, the scope they administer (/ for
-- everything, /hr for that scope and below) and a slow hash of their password. Failed sign-ins
-- are counted here, not in memory, so that a lock-out holds on every node and across restarts.
CREATE TABLE administrators (
    name             TEXT PRIMARY KEY,
    scope_path       TEXT NOT NULL REFERENCES scopes(path) ON DELETE CASCADE,
    password_hash    TEXT NOT NULL,
    failed_attempts  INTEGER NOT NULL,
    locked_until     INTEGER,
    created_at       INTEGER NOT NULL
);
