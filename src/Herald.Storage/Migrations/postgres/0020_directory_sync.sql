-- Directory sync from LDAP / Active Directory. A user or group synced from a directory source
-- names it in `source` (null: a local one, changed through Herald as before) and keeps the
-- entry's distinguished name in `source_dn`; a synced user gone from the source is first
-- disabled (`disabled_at`: they receive nothing) and removed after the source's grace period.
-- A source's settings (JSON, no secret: its bind password is a sealed row of `secrets`), the
-- mark its next delta sync starts from, its last outcome, and the lease that lets one node at a
-- time run its scheduled sync, are a row of `directory_sources`.
--
-- Additive: a node of the previous release ignores the new columns and table; it still shows
-- every user (disabled ones too, and would notify them), and does not know synced items are
-- read-only. Upgrade every node before the first sync.
ALTER TABLE directory_users ADD COLUMN source TEXT COLLATE "C";
ALTER TABLE directory_users ADD COLUMN source_dn TEXT COLLATE "C";
ALTER TABLE directory_users ADD COLUMN disabled_at BIGINT;
ALTER TABLE directory_groups ADD COLUMN source TEXT COLLATE "C";
ALTER TABLE directory_groups ADD COLUMN source_dn TEXT COLLATE "C";
CREATE INDEX directory_users_source ON directory_users (source);
CREATE INDEX directory_groups_source ON directory_groups (source);

CREATE TABLE directory_sources (
    name           TEXT COLLATE "C" PRIMARY KEY,
    settings       TEXT NOT NULL,
    delta_mark     TEXT COLLATE "C",
    last_sync_at   BIGINT,
    last_full_at   BIGINT,
    last_outcome   TEXT,
    lease_holder   TEXT COLLATE "C",
    lease_until    BIGINT,
    updated_at     BIGINT NOT NULL
);
