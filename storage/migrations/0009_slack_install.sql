-- The ids of OAuth states already spent on a Slack install callback, so that
-- a state works once even when another server process sees its replay. A row
-- is kept until its state has expired, after which the signature check alone
-- refuses it.
CREATE TABLE oauth_states_used (
    id         text PRIMARY KEY,
    expires_at timestamptz NOT NULL,
    used_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX oauth_states_used_expires ON oauth_states_used (expires_at);

-- Changes of the server's configuration that the audit action catalog has no
-- action for (it is fixed by the platform's documentation): the Slack app's
-- registration, integrations connected and disconnected, and whatever else
-- configures alerting. Generic on purpose: action names are `thing:verb`.
-- org_id is NULL for instance-wide changes. The actor is kept by id and name
-- without a foreign key, so that deleting a user changes no row here.
CREATE TABLE config_changes (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id         bigint REFERENCES organizations (id),
    actor_user_id  bigint,
    actor_username text NOT NULL,
    action         text NOT NULL CHECK (action ~ '^[a-z_]+:[a-z_]+$'),
    -- target names what changed, such as an integration's name; never a secret.
    target         text NOT NULL DEFAULT '' CHECK (length(target) <= 500),
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX config_changes_org ON config_changes (org_id, id);

-- Append-only, like audit_events: the database refuses to change history.
CREATE FUNCTION config_changes_refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'config_changes is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER config_changes_append_only
    BEFORE UPDATE OR DELETE ON config_changes
    FOR EACH ROW EXECUTE FUNCTION config_changes_refuse();
CREATE TRIGGER config_changes_no_truncate
    BEFORE TRUNCATE ON config_changes
    FOR EACH STATEMENT EXECUTE FUNCTION config_changes_refuse();
