-- SMTP connections belong to a scope. Administrators of the owner (or an ancestor) change and
-- delete a connection; the owner and the scopes below it may use it. A connection is named
-- within its owner (short_name, unique per owner); the old `name` column stays the stored
-- identity that scope settings, queued messages and the sealed secrets' associated data refer
-- to, so nothing needs re-sealing. New connections get '<owner>:<short name>' there, which no
-- old name can equal (old names never hold ':' or '/').
--
-- Owners of existing connections: a connection named after exactly one scope in the old way
-- ('/hr/payroll' -> 'hr.payroll') and used only by that scope and the scopes below it belongs to
-- that scope; every other connection (`default` included) belongs to '/', which every scope may
-- use and only administrators of '/' may change — what the console already required. Two scopes
-- whose names collided in the old naming ('/hr.payroll', '/hr/payroll') leave the connection to '/'.
--
-- Additive: a node of the previous release keeps reading and writing connections by `name`; a
-- connection it creates gets owner '/' and its name as short_name. The owner rules hold only on
-- upgraded nodes, so upgrade every node of a farm before delegating administration of scopes.
ALTER TABLE smtp_connections ADD COLUMN owner_scope TEXT COLLATE "C" NOT NULL DEFAULT '/';
ALTER TABLE smtp_connections ADD COLUMN short_name TEXT COLLATE "C";
ALTER TABLE smtp_connections ADD COLUMN allow_plaintext_auth INTEGER NOT NULL DEFAULT 0;
UPDATE smtp_connections SET short_name = name;

UPDATE smtp_connections SET owner_scope = COALESCE((
    SELECT o.scope_path FROM outgoing_settings o
    WHERE o.connection_name = smtp_connections.name
      AND o.scope_path <> '/'
      AND replace(substr(o.scope_path, 2), '/', '.') = smtp_connections.name
      AND NOT EXISTS (
          SELECT 1 FROM outgoing_settings other
          WHERE other.connection_name = smtp_connections.name
            AND other.scope_path <> o.scope_path
            AND substr(other.scope_path, 1, length(o.scope_path) + 1) <> o.scope_path || '/')
), '/');

-- Until now a password could be used over any channel. Connections that were set to send it
-- with no encryption at all keep doing so, as the administrator chose; 'starttls-when-available'
-- (which a man in the middle can strip) now authenticates only once TLS is up.
UPDATE smtp_connections SET allow_plaintext_auth = 1 WHERE security = 'none' AND username IS NOT NULL;

CREATE UNIQUE INDEX smtp_connections_owner_name ON smtp_connections (owner_scope, short_name);
