-- The server runs as a role that does not own the tables (auditgraph_app and
-- its members; storage/roles.go grants it what serve needs after every
-- migration run). An owner can disable triggers, drop partitions and alter
-- tables; a member of auditgraph_app can do none of that, so the two paths
-- that need ownership run as the owner through SECURITY DEFINER functions:
-- creating a month's partition (at ingest of an event of a new month) and
-- retention's audit_events_expire. Their search_path is fixed to the schema
-- the tables are in, with pg_temp last, so that a caller's temporary tables
-- cannot stand in for the real ones.

-- audit_events_expire as in 0007, and refusing a cutoff within the
-- retention the owner set: auditgraph.retention_floor, a setting of the
-- function itself ('forever' or an interval; none: no floor), which only the
-- owner can change (ALTER FUNCTION ... SET), so that the role serve runs as
-- cannot expire more than the owner allows.
CREATE OR REPLACE FUNCTION audit_events_expire(cutoff timestamptz, require_synced boolean)
RETURNS SETOF text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    keep   text := nullif(current_setting('auditgraph.retention_floor', true), '');
    p      record;
    n      bigint;
    ranges jsonb;
    behind boolean;
BEGIN
    IF cutoff > now() - interval '1 day' THEN
        RAISE EXCEPTION 'audit_events_expire: cutoff % is not in the past', cutoff
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- The retention the owner set (a setting of this function, which only
    -- the owner can change; a day's slack for calendar arithmetic).
    IF keep = 'forever' THEN
        RAISE EXCEPTION 'audit_events_expire: the owner of the tables keeps audit events forever (auditgraph migrate --retention)'
            USING ERRCODE = 'insufficient_privilege';
    ELSIF keep IS NOT NULL AND cutoff > now() - keep::interval + interval '1 day' THEN
        RAISE EXCEPTION 'audit_events_expire: cutoff % is within the retention of % the owner of the tables set (auditgraph migrate --retention)', cutoff, keep
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    -- One retention run at a time, whichever server starts it.
    IF NOT pg_try_advisory_xact_lock(hashtext('audit_events_expire')) THEN
        RETURN;
    END IF;
    FOR p IN
        SELECT c.relname AS name,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)'))[1]::timestamptz AS lo,
               (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'FROM \(''([^'']+)''\) TO \(''([^'']+)''\)'))[2]::timestamptz AS hi
        FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'audit_events'::regclass
        ORDER BY 2
    LOOP
        CONTINUE WHEN p.hi IS NULL OR p.hi > cutoff;
        IF require_synced THEN
            EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I e LEFT JOIN bucket_sync_orgs s ON s.org_id = e.org_id
                WHERE s.org_id IS NULL OR e.seq > s.synced_seq)', p.name) INTO behind;
            IF behind THEN
                RAISE WARNING 'audit_events_expire: kept %: it holds events not yet synced to the bucket', p.name;
                CONTINUE;
            END IF;
        END IF;
        EXECUTE format('SELECT coalesce(sum(n), 0), coalesce(jsonb_object_agg(org_id, jsonb_build_array(lo, hi)), ''{}'')
            FROM (SELECT org_id, min(seq) AS lo, max(seq) AS hi, count(*) AS n FROM %I GROUP BY org_id) o', p.name)
            INTO n, ranges;
        INSERT INTO retention_log (partition, range_from, range_to, cutoff, events, org_ranges)
            VALUES (p.name, p.lo, p.hi, cutoff, n, ranges);
        PERFORM set_config('auditgraph.retention_drop', p.name, true);
        EXECUTE format('ALTER TABLE audit_events DETACH PARTITION %I', p.name);
        EXECUTE format('DROP TABLE %I', p.name);
        PERFORM set_config('auditgraph.retention_drop', '', true);
        RETURN NEXT p.name;
    END LOOP;
END
$$;

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
