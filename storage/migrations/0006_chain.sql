-- The hash chain over each organization's audit events and the signed
-- checkpoints that vouch for it (package chain holds the rules).

-- hash is SHA-256(previous event's hash || canonical encoding); events stored
-- before this migration have none and the chain starts after them.
ALTER TABLE audit_events ADD COLUMN hash bytea;

-- last_hash is the hash of the event numbered last_seq, advanced with it
-- under the organization's row lock; NULL until the first chained event.
ALTER TABLE organizations ADD COLUMN last_hash bytea;

-- chain_checkpoints holds the signed checkpoints, one per organization and
-- last sequence number, each linked to its predecessor by signature.
CREATE TABLE chain_checkpoints (
    org_id             bigint NOT NULL REFERENCES organizations (id),
    first_seq          bigint NOT NULL,
    last_seq           bigint NOT NULL,
    last_hash          bytea NOT NULL,
    created_at         timestamptz NOT NULL,
    previous_signature bytea NOT NULL,
    signature          bytea NOT NULL,
    key_id             text NOT NULL,
    PRIMARY KEY (org_id, last_seq),
    CHECK (first_seq >= 1 AND last_seq >= first_seq)
);

CREATE FUNCTION chain_checkpoints_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'chain_checkpoints is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER chain_checkpoints_append_only
    BEFORE UPDATE OR DELETE ON chain_checkpoints
    FOR EACH ROW EXECUTE FUNCTION chain_checkpoints_refuse();
CREATE TRIGGER chain_checkpoints_no_truncate
    BEFORE TRUNCATE ON chain_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION chain_checkpoints_refuse();
