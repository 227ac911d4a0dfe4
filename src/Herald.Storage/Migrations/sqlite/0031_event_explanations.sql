-- Explain: what each event's fan-out decided, kept for Notifications:ExplainRetention (7 days by
-- default) and removed by the hourly purge. One row per event (replaced when the event is fanned
-- out again), with the subscriptions and rules that matched as a JSON array; one compact row per
-- candidate recipient, naming its source by number and its outcome by a small integer (see
-- CandidateOutcome: numbers are never reused), with the message it was mailed in.
--
-- Additive: a node of the previous release neither writes nor reads these tables.
CREATE TABLE event_explanations (
    id           INTEGER PRIMARY KEY,
    event_scope  TEXT NOT NULL,
    event_id     TEXT NOT NULL,
    recorded_at  INTEGER NOT NULL,
    sources      TEXT NOT NULL,
    disabled     TEXT
);
CREATE UNIQUE INDEX event_explanations_event ON event_explanations (event_scope, event_id);
CREATE INDEX event_explanations_recorded ON event_explanations (recorded_at);

CREATE TABLE event_candidates (
    explanation_id INTEGER NOT NULL,
    ordinal        INTEGER NOT NULL,
    address        TEXT NOT NULL,
    user_id        TEXT,
    outcome        INTEGER NOT NULL,
    source         INTEGER NOT NULL,
    other          INTEGER,
    detail         TEXT,
    message_id     TEXT,
    PRIMARY KEY (explanation_id, ordinal)
) WITHOUT ROWID;
