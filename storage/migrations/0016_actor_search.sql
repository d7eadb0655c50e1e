-- Audit-event search by actor (issue 15): who did what, read from an index
-- rather than by checking every event of the window.
--
-- The actor filter matches actor_user_id or actor_email. An index per
-- column would hold 1.4 entries per event on the bench's mix (every event
-- has an email, 40% a user id too) and 2 where every event carries both;
-- with the two, bulk ingest ran at 0.88x (make bench -sections ingest,
-- -quick, 300,000 events, medians of alternating runs), against a budget of
-- 0.90x; with this design at 0.91x. So one index holds each event once,
-- under its email, or its user
-- id when it has no email, followed by (ts, seq) as migration 0012's are.
-- An event that carries a user id and an email is found by its user id
-- through audit_event_actors: the emails each user id came with, recorded
-- by the statement that stores the events (storage.AppendEvents), so a
-- search by user id walks the index under each of them
-- (storage.EventsQuery). A pair already recorded costs ingest an index
-- probe, no write.

CREATE TABLE audit_event_actors (
    org_id  bigint NOT NULL,
    user_id text NOT NULL,
    email   text NOT NULL,
    PRIMARY KEY (org_id, user_id, email)
);

INSERT INTO audit_event_actors (org_id, user_id, email)
SELECT DISTINCT org_id, actor_user_id, actor_email FROM audit_events
WHERE actor_user_id IS NOT NULL AND actor_email IS NOT NULL;

CREATE INDEX audit_events_actor ON audit_events (org_id, (coalesce(actor_email, actor_user_id)), ts, seq)
    WHERE coalesce(actor_email, actor_user_id) IS NOT NULL;
