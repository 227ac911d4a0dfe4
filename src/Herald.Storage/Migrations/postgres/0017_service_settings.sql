-- Settings of the whole service, the same on every node and for the CLI: one row per setting.
-- The first is public_url, the address recipients reach Herald at (links in mail start with it).
--
-- Additive: a node of the previous release ignores the table and keeps its configured
-- Notifications:PublicBaseUrl (or its first --urls entry).
CREATE TABLE service_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
