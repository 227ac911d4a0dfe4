-- The suppression lists: addresses that nothing is sent to from a scope and the scopes below it
-- (hard bounces, complaints, "unsubscribe from everything", administrators' entries). The
-- address is kept as written and as compared (address_key: the local part exactly, the domain
-- in lower-case ASCII; see SuppressionAddress), with its domain for lists by domain.
-- One entry per scope and address; an expired entry no longer applies and is replaced by a new one.
--
-- Additive: a node of the previous release ignores the table (and sends to every address). It
-- cannot read the recipient state 'suppressed' that nodes of this release store, so upgrade
-- every node before suppressing anything.
CREATE TABLE suppressions (
    id           TEXT PRIMARY KEY,
    scope_path   TEXT NOT NULL,
    address      TEXT NOT NULL,
    address_key  TEXT NOT NULL,
    domain       TEXT NOT NULL,
    reason       TEXT NOT NULL,
    source       TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    created_by   TEXT NOT NULL,
    expires_at   INTEGER
);
CREATE UNIQUE INDEX suppressions_address_scope ON suppressions (address_key, scope_path);
CREATE INDEX suppressions_scope ON suppressions (scope_path, id);
CREATE INDEX suppressions_domain ON suppressions (domain, id);
