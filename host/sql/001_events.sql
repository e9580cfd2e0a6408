-- switchboard's PostgreSQL store, schema version 1.
--
-- Applied once, in one transaction, by the first `switchboard serve --store`
-- that finds the database without it (see host/src/serve/postgres.rs); the
-- version it brings is recorded in switchboard_meta's `schema_version` row.
-- Never edit a migration that was released: add 002_….sql instead.

-- Accepted events, once per (source, id): the primary dedupe of every
-- replica. `seq` numbers events in insertion order; `xid` is the inserting
-- transaction, so that a reader can tell which events may still appear
-- below a position (README, "Reading events in order").
CREATE TABLE switchboard_events (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    xid         xid8 NOT NULL DEFAULT pg_current_xact_id(),
    source      text NOT NULL,
    id          text NOT NULL,
    type        text NOT NULL,
    vendor      text NOT NULL,
    event       json NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (source, id)
);
CREATE INDEX switchboard_events_order ON switchboard_events (xid, seq);

-- Every insert wakes the readers LISTENing on `switchboard_events`; the
-- payload is the event's seq.
CREATE FUNCTION switchboard_events_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('switchboard_events', NEW.seq::text);
    RETURN NULL;
END
$$;
CREATE TRIGGER switchboard_events_notify
    AFTER INSERT ON switchboard_events
    FOR EACH ROW EXECUTE FUNCTION switchboard_events_notify();

-- Events still to forward (written in the event's transaction). A replica
-- claims a few by setting a lease (`lease_until`, `owner`), delivers them
-- and deletes them; a lease that runs out (its replica died) makes the
-- event claimable again: at least once.
CREATE TABLE switchboard_outbox (
    seq         bigint PRIMARY KEY REFERENCES switchboard_events (seq) ON DELETE CASCADE,
    lease_until timestamptz,
    owner       text
);

-- Events the downstream refused for good (a 4xx but 408 and 429, a 3xx).
CREATE TABLE switchboard_dead_letters (
    seq      bigint PRIMARY KEY REFERENCES switchboard_events (seq) ON DELETE CASCADE,
    time     timestamptz NOT NULL DEFAULT now(),
    status   integer,
    reason   text NOT NULL,
    response text
);

-- The refusal log: one record per refused delivery (the JSON of a
-- `<journal>.refused` line), kept within --refused-max-deliveries and
-- --refused-max-bytes by deleting the oldest.
CREATE TABLE switchboard_refusals (
    seq         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at timestamptz NOT NULL DEFAULT now(),
    bytes       integer NOT NULL,
    record      json NOT NULL
);
