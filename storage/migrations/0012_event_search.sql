-- Audit-event search that reads only what it returns (issue 15). Each index
-- leads with the equalities of one auditEvents filter and ends in (ts, seq),
-- so storage/eventquery.go walks it in the page's order from the cursor and
-- stops after the page: rows read per row returned stay small whatever the
-- log's size. The two-column filters (actor, targetUser, entity, project)
-- walk one index per column; those columns are often empty, and the partial
-- indexes leave the empty ones out (smaller, and nothing to write at ingest).

CREATE INDEX audit_events_action ON audit_events (org_id, action, ts, seq);
-- The response-code range: one walk per code present in the range (found by
-- a loose index scan on this index), and per action when actions are given
-- too (the dashboard's actions + responseCodeMin). Only the codes outside
-- 2xx, a few percent of the events: a range that takes in 2xx matches most
-- events and needs no index.
CREATE INDEX audit_events_code ON audit_events (org_id, response_code, ts, seq)
    WHERE response_code < 200 OR response_code >= 300;
CREATE INDEX audit_events_action_code ON audit_events (org_id, action, response_code, ts, seq)
    WHERE response_code < 200 OR response_code >= 300;

CREATE INDEX audit_events_actor_user_id ON audit_events (org_id, actor_user_id, ts, seq) WHERE actor_user_id IS NOT NULL;
CREATE INDEX audit_events_actor_email ON audit_events (org_id, actor_email, ts, seq) WHERE actor_email IS NOT NULL;
CREATE INDEX audit_events_user_asset ON audit_events (org_id, user_asset, ts, seq) WHERE user_asset IS NOT NULL;
CREATE INDEX audit_events_user_email ON audit_events (org_id, user_email, ts, seq) WHERE user_email IS NOT NULL;
CREATE INDEX audit_events_entity_name ON audit_events (org_id, entity_name, ts, seq) WHERE entity_name IS NOT NULL;
CREATE INDEX audit_events_entity_asset ON audit_events (org_id, entity_asset, ts, seq) WHERE entity_asset IS NOT NULL;
CREATE INDEX audit_events_project_name ON audit_events (org_id, project_name, ts, seq) WHERE project_name IS NOT NULL;
CREATE INDEX audit_events_project_asset ON audit_events (org_id, project_asset, ts, seq) WHERE project_asset IS NOT NULL;
