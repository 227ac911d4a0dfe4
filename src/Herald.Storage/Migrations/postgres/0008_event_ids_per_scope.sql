-- PostgreSQL twin of sqlite/0008_event_ids_per_scope.sql. Event ids are unique within a scope,
-- not across scopes (an event is named by its scope and its id): a producer of /hr posting
-- 'doc-4711' first must not make /finance's 'doc-4711' a duplicate that is never sent, nor learn
-- that it exists. Existing rows are kept as they are; digest_items, whose rows named an event by
-- id alone, becomes digest_events, naming it by scope and id.
--
-- Rolling upgrade: while a node of an earlier version still runs on this database,
-- * it answers POST /api/v1/events with 500 and stores nothing: its INSERT … ON CONFLICT (id)
--   matches no unique constraint any more. Producers retry (an event id makes a retry safe);
--   point them at upgraded nodes.
-- * it still claims, renews, completes and releases pending events correctly: each of those
--   touches only rows its node leased, whatever their scope.
-- * its fan-out of an event that matches a daily or weekly subscription, and its digest
--   scheduler, fail (digest_items is gone): such an event stays pending and an upgraded node
--   fans it out when the lease runs out (the outbox's idempotency keys send nothing twice), and
--   upgraded nodes send the digest windows. Nothing is lost, and an old node never reads an
--   event of one scope for another (its digest query, which joined on the id alone, cannot run).
-- Upgrade every node soon; nothing needs to be done afterwards.

CREATE TABLE digest_events (
    subscription_id  TEXT COLLATE "C" NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    event_scope      TEXT COLLATE "C" NOT NULL,
    event_id         TEXT COLLATE "C" NOT NULL,
    received_at      BIGINT NOT NULL,
    PRIMARY KEY (subscription_id, event_scope, event_id)
);
INSERT INTO digest_events (subscription_id, event_scope, event_id, received_at)
    SELECT d.subscription_id, e.scope_path, d.event_id, d.received_at
    FROM digest_items d JOIN notification_events e ON e.id = d.event_id;
DROP TABLE digest_items;

ALTER TABLE notification_events DROP CONSTRAINT notification_events_pkey;
ALTER TABLE notification_events ADD PRIMARY KEY (scope_path, id);

ALTER TABLE digest_events ADD FOREIGN KEY (event_scope, event_id) REFERENCES notification_events (scope_path, id) ON DELETE CASCADE;
CREATE INDEX digest_events_received ON digest_events (subscription_id, received_at);
