-- PostgreSQL twin of sqlite/0005_notifications.sql (types as explained in 0001_foundation.sql).
-- Notifications: the directory (users, groups, access lists), events, subscriptions and rules,
-- opt-outs, templates, digests and the unsubscribe signing key. Lists are stored one item per
-- line, conditions as JSON, enumerations by their written names, times as milliseconds since 1970.

-- Directory ---------------------------------------------------------------------------------
CREATE TABLE directory_users (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    email       TEXT COLLATE "C" NOT NULL,
    time_zone   TEXT COLLATE "C" NOT NULL,
    language    TEXT COLLATE "C" NOT NULL,
    updated_at  BIGINT NOT NULL
);
CREATE INDEX directory_users_email ON directory_users (email);

CREATE TABLE directory_groups (
    id          TEXT COLLATE "C" PRIMARY KEY,
    name        TEXT COLLATE "C" NOT NULL,
    alias       TEXT COLLATE "C",
    delivery    TEXT COLLATE "C" NOT NULL,
    updated_at  BIGINT NOT NULL
);

-- member_kind is 'user' or 'group'; a member need not exist yet (bulk imports in any order).
CREATE TABLE group_members (
    group_id     TEXT COLLATE "C" NOT NULL REFERENCES directory_groups(id) ON DELETE CASCADE,
    member_kind  TEXT COLLATE "C" NOT NULL,
    member_id    TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (group_id, member_kind, member_id)
);
CREATE INDEX group_members_member ON group_members (member_kind, member_id);

CREATE TABLE access_entries (
    scope_path      TEXT COLLATE "C" NOT NULL REFERENCES scopes(path) ON DELETE CASCADE,
    principal_kind  TEXT COLLATE "C" NOT NULL,
    principal_id    TEXT COLLATE "C" NOT NULL,
    level           TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (scope_path, principal_kind, principal_id)
);

-- Bumped by every directory or access-list write, so that each node knows when to reload its view.
CREATE TABLE directory_revision (
    id        INTEGER PRIMARY KEY CHECK (id = 1),
    revision  BIGINT NOT NULL
);
INSERT INTO directory_revision (id, revision) VALUES (1, 0);

-- Events --------------------------------------------------------------------------------------
-- An event is stored (and acknowledged) before it is matched; state 'pending' → 'done'. A node
-- matching it holds a lease, so a node that dies mid-fan-out leaves it to another.
CREATE TABLE notification_events (
    id             TEXT COLLATE "C" PRIMARY KEY,
    scope_path     TEXT COLLATE "C" NOT NULL REFERENCES scopes(path) ON DELETE CASCADE,
    type           TEXT COLLATE "C" NOT NULL,
    resource_path  TEXT COLLATE "C" NOT NULL,
    actor          TEXT COLLATE "C",
    title          TEXT COLLATE "C" NOT NULL,
    link           TEXT COLLATE "C",
    data           TEXT COLLATE "C",
    occurred_at    BIGINT NOT NULL,
    received_at    BIGINT NOT NULL,
    state          TEXT COLLATE "C" NOT NULL,
    lease_owner    TEXT COLLATE "C",
    lease_until    BIGINT,
    processed_at   BIGINT
);
CREATE INDEX notification_events_pending ON notification_events (received_at) WHERE state = 'pending';

-- Subscriptions and rules -----------------------------------------------------------------------
CREATE TABLE subscriptions (
    id             TEXT COLLATE "C" PRIMARY KEY,
    scope_path     TEXT COLLATE "C" NOT NULL REFERENCES scopes(path) ON DELETE CASCADE,
    owner_kind     TEXT COLLATE "C" NOT NULL,
    owner_id       TEXT COLLATE "C" NOT NULL,
    name           TEXT COLLATE "C" NOT NULL,
    event_types    TEXT COLLATE "C" NOT NULL,
    path_prefixes  TEXT COLLATE "C" NOT NULL,
    change_kinds   TEXT COLLATE "C" NOT NULL,
    conditions     TEXT COLLATE "C" NOT NULL,
    frequency      TEXT COLLATE "C" NOT NULL,
    digest_at      TEXT COLLATE "C" NOT NULL,
    digest_day     TEXT COLLATE "C" NOT NULL,
    exclude_actor  INTEGER NOT NULL,
    enabled        INTEGER NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX subscriptions_owner ON subscriptions (owner_kind, owner_id);
CREATE INDEX subscriptions_updated ON subscriptions (updated_at);

-- Removed subscriptions and rules, so that other nodes drop them from their match index.
CREATE TABLE notification_removals (
    kind        TEXT COLLATE "C" NOT NULL,
    id          TEXT COLLATE "C" NOT NULL,
    removed_at  BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);

CREATE TABLE notification_rules (
    id             TEXT COLLATE "C" PRIMARY KEY,
    scope_path     TEXT COLLATE "C" NOT NULL REFERENCES scopes(path) ON DELETE CASCADE,
    name           TEXT COLLATE "C" NOT NULL,
    event_types    TEXT COLLATE "C" NOT NULL,
    path_prefixes  TEXT COLLATE "C" NOT NULL,
    change_kinds   TEXT COLLATE "C" NOT NULL,
    conditions     TEXT COLLATE "C" NOT NULL,
    addresses      TEXT COLLATE "C" NOT NULL,
    recipients     TEXT COLLATE "C" NOT NULL,
    exclude_actor  INTEGER NOT NULL,
    enabled        INTEGER NOT NULL,
    created_at     BIGINT NOT NULL,
    updated_at     BIGINT NOT NULL
);
CREATE INDEX notification_rules_updated ON notification_rules (updated_at);

-- source_kind: subscription | rule | administrative; recipient: a user id or an address.
CREATE TABLE notification_opt_outs (
    source_kind  TEXT COLLATE "C" NOT NULL,
    source_id    TEXT COLLATE "C" NOT NULL,
    recipient    TEXT COLLATE "C" NOT NULL,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (source_kind, source_id, recipient)
);

-- Templates -------------------------------------------------------------------------------------
-- event_type is an event type, or 'digest' for daily and weekly summaries.
CREATE TABLE notification_templates (
    scope_path  TEXT COLLATE "C" NOT NULL REFERENCES scopes(path) ON DELETE CASCADE,
    event_type  TEXT COLLATE "C" NOT NULL,
    subject     TEXT COLLATE "C" NOT NULL,
    text_body   TEXT COLLATE "C" NOT NULL,
    html_body   TEXT COLLATE "C",
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (scope_path, event_type)
);

-- Digests ---------------------------------------------------------------------------------------
-- The events that matched a daily or weekly subscription, kept until its windows have passed.
CREATE TABLE digest_items (
    subscription_id  TEXT COLLATE "C" NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    event_id         TEXT COLLATE "C" NOT NULL REFERENCES notification_events(id) ON DELETE CASCADE,
    received_at      BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, event_id)
);
CREATE INDEX digest_items_received ON digest_items (subscription_id, received_at);

-- One row per digest window sent to one recipient: the window's end is its name.
CREATE TABLE digest_runs (
    subscription_id  TEXT COLLATE "C" NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    recipient        TEXT COLLATE "C" NOT NULL,
    window_end       BIGINT NOT NULL,
    message_id       TEXT COLLATE "C",
    node             TEXT COLLATE "C" NOT NULL,
    created_at       BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, recipient, window_end)
);

-- Keys that sign links (purpose 'unsubscribe'): random, made once by the first node that needs
-- one, shared by every node through the database.
CREATE TABLE signing_keys (
    purpose       TEXT COLLATE "C" PRIMARY KEY,
    key_material  TEXT COLLATE "C" NOT NULL,
    created_at    BIGINT NOT NULL
);
