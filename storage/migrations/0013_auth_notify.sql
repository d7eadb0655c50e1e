-- What lets a server answer authentication from memory for a short time
-- (internal/identity/auth.Cache) and still stop honouring credentials at
-- once, on every replica: every change that can take away or alter a user's
-- access is announced on the channel auth_changed with the user's id as the
-- payload ('*': could concern anyone), when its transaction commits. The
-- triggers catch every path (a deleted key, a deactivated or deleted user, a
-- signed-out or expired session, a changed membership, a renamed
-- organization), including cascades and SQL typed by hand.
CREATE FUNCTION auth_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_ARGV[0] = '*' THEN
        PERFORM pg_notify('auth_changed', '*');
    ELSE
        PERFORM pg_notify('auth_changed', COALESCE(to_jsonb(OLD), to_jsonb(NEW)) ->> TG_ARGV[0]);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_auth_changed AFTER UPDATE OR DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION auth_changed('id');
CREATE TRIGGER api_keys_auth_changed AFTER DELETE OR UPDATE OF hash, user_id ON api_keys
    FOR EACH ROW EXECUTE FUNCTION auth_changed('user_id');
CREATE TRIGGER sessions_auth_changed AFTER DELETE OR UPDATE OF hash, user_id, api_key_id, expires_at ON sessions
    FOR EACH ROW EXECUTE FUNCTION auth_changed('user_id');
CREATE TRIGGER memberships_auth_changed AFTER INSERT OR DELETE OR UPDATE OF org_id, user_id, role, accepted_at, models_seat, weave_access ON memberships
    FOR EACH ROW EXECUTE FUNCTION auth_changed('user_id');
CREATE TRIGGER organizations_auth_changed AFTER DELETE OR UPDATE OF name, plan ON organizations
    FOR EACH STATEMENT EXECUTE FUNCTION auth_changed('*');

-- The members page's default order (last active, newest first, never active
-- last) read from an index instead of sorting every member.
CREATE INDEX memberships_org_last_active ON memberships (org_id, last_active_at DESC NULLS LAST, user_id DESC);
