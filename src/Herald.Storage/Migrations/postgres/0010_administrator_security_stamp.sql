-- A random value that changes whenever an administrator's password or scope changes. A console
-- session carries the stamp it was signed in with and ends, on every node, once the stored one
-- differs (or the administrator is gone). Existing administrators get a stamp of their own, so
-- sessions signed in before the upgrade (which carry none) end once; a row added by a node of
-- the previous version during a rolling upgrade gets '' until its next password change.
-- PostgreSQL twin of sqlite/0010_administrator_security_stamp.sql.
ALTER TABLE administrators ADD COLUMN security_stamp TEXT COLLATE "C" NOT NULL DEFAULT '';
UPDATE administrators SET security_stamp = replace(gen_random_uuid()::text, '-', '');
