-- The audit log: append-only, partitioned by month on the event time, every
-- row carrying its organization so the table stays distributable by org_id.

CREATE TABLE audit_events (
    org_id                  bigint NOT NULL,
    seq                     bigint NOT NULL,
    ts                      timestamptz NOT NULL,
    received_at             timestamptz NOT NULL DEFAULT now(),
    action                  text NOT NULL,
    actor_user_id           text,
    actor_email             text,
    actor_ip                text,
    artifact_asset          text,
    artifact_digest         text,
    artifact_qualified_name text,
    artifact_sequence_asset text,
    cli_version             text,
    entity_asset            text,
    entity_name             text,
    project_asset           text,
    project_name            text,
    report_asset            text,
    report_name             text,
    response_code           smallint,
    user_asset              text,
    user_email              text,
    PRIMARY KEY (org_id, ts, seq)
) PARTITION BY RANGE (ts);

CREATE INDEX audit_events_org_seq ON audit_events (org_id, seq);

CREATE FUNCTION audit_events_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

-- Row triggers on the partitioned table are cloned onto every partition;
-- TRUNCATE triggers are not, so audit_events_ensure_partition adds one to each.
CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_refuse();
CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse();

-- audit_events_ensure_partition creates the partition holding the UTC month
-- of t, if it does not exist yet, and returns its name.
CREATE FUNCTION audit_events_ensure_partition(t timestamptz) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    month timestamp := date_trunc('month', t AT TIME ZONE 'UTC');
    part  text := format('audit_events_%s', to_char(month, 'YYYY_MM'));
BEGIN
    IF to_regclass(part) IS NOT NULL THEN
        RETURN part;
    END IF;
    PERFORM pg_advisory_xact_lock(hashtext('audit_events_ensure_partition'));
    IF to_regclass(part) IS NULL THEN
        EXECUTE format('CREATE TABLE %I PARTITION OF audit_events FOR VALUES FROM (%L) TO (%L)',
            part, month AT TIME ZONE 'UTC', (month + interval '1 month') AT TIME ZONE 'UTC');
        EXECUTE format('CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON %I '
            'FOR EACH STATEMENT EXECUTE FUNCTION audit_events_refuse()', part);
    END IF;
    RETURN part;
END
$$;
