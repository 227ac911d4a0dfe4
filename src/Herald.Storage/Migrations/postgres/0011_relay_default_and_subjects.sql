-- PostgreSQL twin of sqlite/0011_relay_default_and_subjects.sql (see there for why).
CREATE TABLE relay_default_listener (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    removed_at  BIGINT NOT NULL
);
INSERT INTO relay_default_listener (id, removed_at)
SELECT 1, (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT WHERE EXISTS (SELECT 1 FROM relay_listeners);

ALTER TABLE messages ADD COLUMN subject TEXT COLLATE "C";
