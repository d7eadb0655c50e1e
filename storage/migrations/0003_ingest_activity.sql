-- Idempotency keys of ingested events and the activity rollups kept current
-- at ingest.

-- audit_event_ids remembers every client-supplied event id per organization,
-- so a retried batch stores nothing twice. It is not partitioned: a unique
-- constraint on the partitioned events table would have to include the time.
CREATE TABLE audit_event_ids (
    org_id    bigint NOT NULL,
    client_id text NOT NULL,
    PRIMARY KEY (org_id, client_id)
);

-- activity_days holds one row per organization, user and UTC day with
-- activity; the dashboard's counts and series are read from it.
CREATE TABLE activity_days (
    org_id  bigint NOT NULL,
    user_id bigint NOT NULL,
    day     date NOT NULL,
    last_at timestamptz NOT NULL,
    PRIMARY KEY (org_id, day, user_id)
);
CREATE INDEX activity_days_user ON activity_days (org_id, user_id, day);

-- users.email is matched against ingested actor_email without regard to case,
-- so two users may not have emails that differ only in case.
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));
