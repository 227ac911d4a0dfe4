-- "Email me a sign-in link": one row per request, whoever has the address typed. The request is
-- worked on in the background (state 'requested' until then, claimed_until while a node works on
-- it); a user's link is kept only as the SHA-256 of its token, used once (used_at), and every row
-- is forgotten once the rate limits no longer count it and its link has expired.
--
-- Additive: a node of the previous release neither serves the page nor reads the table.
CREATE TABLE sign_in_links (
    id            TEXT PRIMARY KEY,
    address       TEXT NOT NULL,
    client        TEXT NOT NULL,
    requested_at  INTEGER NOT NULL,
    state         TEXT NOT NULL,
    claimed_until INTEGER NULL,
    user_id       TEXT NULL,
    token_hash    TEXT NULL UNIQUE,
    expires_at    INTEGER NULL,
    used_at       INTEGER NULL
);

CREATE INDEX sign_in_links_by_address ON sign_in_links (address, requested_at);
CREATE INDEX sign_in_links_by_client ON sign_in_links (client, requested_at);
CREATE INDEX sign_in_links_waiting ON sign_in_links (state, requested_at);
