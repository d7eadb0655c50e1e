-- Bucket sync: how far each organization's log has been exported, the export
-- planned but not yet confirmed, and every object written. Retention: the
-- one path that removes audit events (whole expired partitions) and its log.

-- bucket_sync_orgs holds each organization's high-water mark (synced_seq: the
-- last sequence number known to be in the bucket) and, while an upload is
-- under way, its plan. The plan is committed before the upload starts, so a
-- run after a crash redoes exactly that object, with the same name and bytes.
CREATE TABLE bucket_sync_orgs (
    org_id      bigint PRIMARY KEY REFERENCES organizations (id),
    synced_seq  bigint NOT NULL DEFAULT 0,
    plan_first  bigint,
    plan_last   bigint,
    plan_object text,
    CHECK ((plan_first IS NULL) = (plan_last IS NULL) AND (plan_first IS NULL) = (plan_object IS NULL)),
    CHECK (plan_first IS NULL OR (plan_first > synced_seq AND plan_last >= plan_first))
);

-- bucket_sync_objects records every uploaded object; a row is written in the
-- transaction that moves the high-water mark past it.
CREATE TABLE bucket_sync_objects (
    org_id      bigint NOT NULL REFERENCES organizations (id),
    first_seq   bigint NOT NULL,
    last_seq    bigint NOT NULL,
    object      text NOT NULL,
    checkpoint  text,
    uploaded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (org_id, first_seq)
);

-- bucket_sync_status is one row: when a sync run last completed with every
-- organization exported, and when the stall alert was last raised, so that
-- among several servers only one raises it.
CREATE TABLE bucket_sync_status (
    id               boolean PRIMARY KEY DEFAULT true CHECK (id),
    last_success     timestamptz,
    stall_alerted_at timestamptz
);
INSERT INTO bucket_sync_status DEFAULT VALUES;

-- retention_log records every partition retention dropped: its month, how
-- many events it held, and each organization's sequence range in it (so a
-- verifier knows where the remaining chain starts).
CREATE TABLE retention_log (
    id         bigserial PRIMARY KEY,
    partition  text NOT NULL,
    range_from timestamptz NOT NULL,
    range_to   timestamptz NOT NULL,
    cutoff     timestamptz NOT NULL,
    events     bigint NOT NULL,
    org_ranges jsonb NOT NULL,
    dropped_at timestamptz NOT NULL DEFAULT now(),
    dropped_by text NOT NULL DEFAULT current_user
);

-- audit_events_expire is the only path that removes audit events. It drops
-- each partition of audit_events that lies entirely before cutoff, writing
-- its retention_log row first in the same transaction. When require_synced
-- is set, a partition holding an event not yet in the bucket is kept. Row
-- triggers still refuse UPDATE, DELETE and TRUNCATE; the drop guard below
-- refuses DROP of an audit_events table unless this function names it.
CREATE FUNCTION audit_events_expire(cutoff timestamptz, require_synced boolean)
RETURNS SETOF text LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public AS $$
DECLARE
    p      record;
    n      bigint;
    ranges jsonb;
    behind boolean;
BEGIN
    IF cutoff > now() - interval '1 day' THEN
        RAISE EXCEPTION 'audit_events_expire: cutoff % is not in the past', cutoff
            USING ERRCODE = 'invalid_parameter_value';
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

-- Functions are executable by every role unless revoked; only the owner
-- (the role that runs auditgraph) may expire events.
REVOKE ALL ON FUNCTION audit_events_expire(timestamptz, boolean) FROM PUBLIC;

-- audit_events_drop_guard refuses to drop the events table or any of its
-- partitions, except the one audit_events_expire is dropping: the session
-- setting must name it and the drop must run inside that function (the call
-- stack cannot be set by a client the way a setting can). An event trigger
-- needs a superuser to create; without one the migration skips it and says so
-- (triggers still refuse UPDATE, DELETE and TRUNCATE either way).
CREATE FUNCTION audit_events_drop_guard() RETURNS event_trigger LANGUAGE plpgsql AS $$
DECLARE
    o     record;
    stack text;
BEGIN
    GET DIAGNOSTICS stack = PG_CONTEXT;
    FOR o IN SELECT * FROM pg_event_trigger_dropped_objects()
        WHERE object_type = 'table' AND object_name ~ '^audit_events(_\d{4}_\d{2})?$'
    LOOP
        IF o.object_name IS DISTINCT FROM nullif(current_setting('auditgraph.retention_drop', true), '')
            OR position('function audit_events_expire(' IN stack) = 0 THEN
            RAISE EXCEPTION 'audit_events is append-only: DROP TABLE % is not allowed; retention drops expired partitions', o.object_name
                USING ERRCODE = 'insufficient_privilege';
        END IF;
    END LOOP;
END
$$;

DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        CREATE EVENT TRIGGER audit_events_drop_guard ON sql_drop EXECUTE FUNCTION audit_events_drop_guard();
    ELSE
        RAISE NOTICE 'not a superuser: DROP TABLE on audit_events partitions is not guarded';
    END IF;
END
$$;
