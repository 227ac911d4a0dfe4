-- The scope a group belongs to: its administrators (and those of the scopes above) change it.
-- Every group so far was the directory's, changed by administrators of / only: they stay so.
--
-- Additive: a node of the previous release inserts groups without the column (owned by /) and
-- its upsert leaves an existing group's scope alone, so nodes of both versions may run together.
ALTER TABLE directory_groups ADD COLUMN scope_path TEXT NOT NULL DEFAULT '/';
CREATE INDEX directory_groups_scope ON directory_groups (scope_path);
