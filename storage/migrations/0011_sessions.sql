-- Browser sign-in sessions (the dashboard). A session is opened with a
-- user's API key; the cookie holds a random 256-bit token, and only its
-- SHA-256 is kept here. Deleting the key the session was opened with, or the
-- user, deletes the session (cascade); deactivating the user deletes all of
-- their sessions (the trigger below), so that a later reactivation does not
-- bring them back.
CREATE TABLE sessions (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    hash         bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    api_key_id   bigint NOT NULL REFERENCES api_keys (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    -- last_seen_at moves with use (at most once a minute); the idle timeout
    -- counts from it.
    last_seen_at timestamptz NOT NULL,
    -- expires_at is the absolute end: created_at plus the lifetime.
    expires_at   timestamptz NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_api_key ON sessions (api_key_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE FUNCTION sessions_end_on_deactivate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM sessions WHERE user_id = NEW.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER users_deactivate_ends_sessions
    AFTER UPDATE OF deactivated_at ON users
    FOR EACH ROW WHEN (NEW.deactivated_at IS NOT NULL AND OLD.deactivated_at IS NULL)
    EXECUTE FUNCTION sessions_end_on_deactivate();
