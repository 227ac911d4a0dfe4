-- Event ids are unique within a scope, not across scopes (an event is named by its scope and its
-- id): a producer of /hr posting 'doc-4711' first must not make /finance's 'doc-4711' a duplicate
-- that is never sent, nor learn that it exists. Existing rows are kept as they are.
--
-- SQLite cannot change a primary key in place, so notification_events is rebuilt; digest_items,
-- whose rows named an event by id alone, becomes digest_events, naming it by scope and id. A
-- SQLite database has one node, so no older node writes meanwhile (see the PostgreSQL twin for a
-- farm's rolling upgrade). This migration runs in one transaction with foreign keys enforced:
-- the children are copied aside before any parent is dropped, so that no cascade fires.

CREATE TEMPORARY TABLE digest_items_0008 AS
    SELECT d.subscription_id, e.scope_path AS event_scope, d.event_id, d.received_at
    FROM digest_items d JOIN notification_events e ON e.id = d.event_id;
DROP TABLE digest_items;

ALTER TABLE notification_events RENAME TO notification_events_0005;
CREATE TABLE notification_events (
    scope_path     TEXT NOT NULL REFERENCES scopes(path) ON DELETE CASCADE,
    id             TEXT NOT NULL,
    type           TEXT NOT NULL,
    resource_path  TEXT NOT NULL,
    actor          TEXT,
    title          TEXT NOT NULL,
    link           TEXT,
    data           TEXT,
    occurred_at    INTEGER NOT NULL,
    received_at    INTEGER NOT NULL,
    state          TEXT NOT NULL,
    lease_owner    TEXT,
    lease_until    INTEGER,
    processed_at   INTEGER,
    PRIMARY KEY (scope_path, id)
);
INSERT INTO notification_events (scope_path, id, type, resource_path, actor, title, link, data, occurred_at, received_at, state, lease_owner, lease_until, processed_at)
    SELECT scope_path, id, type, resource_path, actor, title, link, data, occurred_at, received_at, state, lease_owner, lease_until, processed_at
    FROM notification_events_0005;
DROP TABLE notification_events_0005;
CREATE INDEX notification_events_pending ON notification_events (received_at) WHERE state = 'pending';

-- The events that matched a daily or weekly subscription, kept until its windows have passed.
CREATE TABLE digest_events (
    subscription_id  TEXT NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    event_scope      TEXT NOT NULL,
    event_id         TEXT NOT NULL,
    received_at      INTEGER NOT NULL,
    PRIMARY KEY (subscription_id, event_scope, event_id),
    FOREIGN KEY (event_scope, event_id) REFERENCES notification_events (scope_path, id) ON DELETE CASCADE
);
INSERT INTO digest_events (subscription_id, event_scope, event_id, received_at)
    SELECT subscription_id, event_scope, event_id, received_at FROM digest_items_0008;
DROP TABLE digest_items_0008;
CREATE INDEX digest_events_received ON digest_events (subscription_id, received_at);
