-- Kerberos (GSSAPI) as a connection's authentication: the realm, the keytab or credential cache
-- (paths on every node; nothing of the keys is in the database) and the service principal, as one
-- JSON document in `kerberos`. The client principal is the connection's user name, and its
-- mechanisms list says GSSAPI.
--
-- Additive: a node of the previous release ignores the column, and its upsert leaves it alone; it
-- sees a Kerberos connection as one with a user name, GSSAPI and no password, which defers its
-- mail ("needs a password") instead of sending it anonymously. Upgrade every node before
-- switching a connection to Kerberos.
ALTER TABLE smtp_connections ADD COLUMN kerberos TEXT;
