-- The server runs as a role that does not own the tables (auditgraph_app and
-- its members; storage/roles.go grants it what serve needs after every
-- migration run). An owner can disable triggers, drop partitions and alter
-- tables; a member of auditgraph_app can do none of that, so the two paths
-- that need ownership run as the owner through SECURITY DEFINER functions:
-- creating a month's partition (at ingest of an event of a new month) and
-- retention's audit_events_expire. Their search_path is fixed to the schema
-- the tables are in, with pg_temp last, so that a caller's temporary tables
-- cannot stand in for the real ones.
DO $$
DECLARE
    path text := format('%I, pg_temp', current_schema());
BEGIN
    EXECUTE format('ALTER FUNCTION audit_events_ensure_partition(timestamptz) SECURITY DEFINER SET search_path = %s', path);
    EXECUTE format('ALTER FUNCTION audit_events_expire(timestamptz, boolean) SET search_path = %s', path);
END
$$;
REVOKE ALL ON FUNCTION audit_events_ensure_partition(timestamptz) FROM PUBLIC;

-- Inside audit_events_expire current_user is the owner; the role whose
-- session called it is the one worth recording.
ALTER TABLE retention_log ALTER COLUMN dropped_by SET DEFAULT session_user;
