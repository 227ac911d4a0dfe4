-- The implied default relay listener (127.0.0.1:2525: loopback only, anonymous, into /) now runs
-- until an administrator of / removes it; a row here says it was removed. Before this version the
-- first stored listener replaced the default silently, for everyone: an installation that stores
-- listeners already has been running without it, and keeps doing so. During a rolling upgrade a
-- node of the previous version still drops the default once any listener is stored.
CREATE TABLE relay_default_listener (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    removed_at  INTEGER NOT NULL
);
INSERT INTO relay_default_listener (id, removed_at)
SELECT 1, CAST(strftime('%s', 'now') AS INTEGER) * 1000 WHERE EXISTS (SELECT 1 FROM relay_listeners);

-- A message's subject (decoded, at most 998 characters), stored when it is queued, so that lists
-- of messages never read MIME bodies. Messages queued before this version (or by a node of the
-- previous version during a rolling upgrade) have none: lists show "(subject not recorded)".
ALTER TABLE messages ADD COLUMN subject TEXT;
