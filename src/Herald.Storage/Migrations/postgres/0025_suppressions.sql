-- PostgreSQL twin of sqlite/0025_suppressions.sql (types as explained in 0001_foundation.sql).
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
    id           TEXT COLLATE "C" PRIMARY KEY,
    scope_path   TEXT COLLATE "C" NOT NULL,
    address      TEXT COLLATE "C" NOT NULL,
    address_key  TEXT COLLATE "C" NOT NULL,
    domain       TEXT COLLATE "C" NOT NULL,
    reason       TEXT COLLATE "C" NOT NULL,
    source       TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL,
    created_by   TEXT COLLATE "C" NOT NULL,
    expires_at   BIGINT
);
CREATE UNIQUE INDEX suppressions_address_scope ON suppressions (address_key, scope_path);
CREATE INDEX suppressions_scope ON suppressions (scope_path, id);
CREATE INDEX suppressions_domain ON suppressions (domain, id);
