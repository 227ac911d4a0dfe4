-- Bounce mailboxes: per scope, the IMAP or POP3 mailbox that DSNs and complaints for the scope's
-- mail arrive in, and the domain of its bounce addresses (bounces+TOKEN@domain). Settings as JSON
-- without secrets (the user name and password are sealed rows of `secrets` named for the scope);
-- the last read's outcome; the lease that lets one node at a time read it.
--
-- Additive: a node of the previous release ignores the table (it sends with the configured
-- envelope sender and reads no mailbox). It cannot read the recipient state 'complained' that a
-- node of this release stores, so upgrade every node before setting a bounce mailbox.
CREATE TABLE bounce_mailboxes (
    scope_path     TEXT PRIMARY KEY,
    settings       TEXT NOT NULL,
    last_outcome   TEXT,
    last_read_at   INTEGER,
    lease_holder   TEXT,
    lease_until    INTEGER,
    updated_at     INTEGER NOT NULL
);
