-- Organizations, users, memberships, teams, service accounts and API keys.

CREATE TABLE organizations (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name       text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    plan       text NOT NULL DEFAULT 'free' CHECK (plan IN ('free', 'teams', 'enterprise')),
    -- last_seq is the per-organization audit event sequence; taking the next
    -- numbers locks this row, which serializes appends to one org's log.
    last_seq   bigint NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    id                 bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username           text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    name               text NOT NULL DEFAULT '',
    email              text UNIQUE CHECK (email IS NULL OR email ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
    instance_admin     boolean NOT NULL DEFAULT false,
    -- service_account_team is set for service accounts: they belong to exactly one team.
    service_account_team bigint,
    default_org_id     bigint REFERENCES organizations (id) ON DELETE SET NULL,
    deactivated_at     timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE teams (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id     bigint NOT NULL REFERENCES organizations (id),
    name       text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$'),
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name)
);

ALTER TABLE users ADD FOREIGN KEY (service_account_team) REFERENCES teams (id) ON DELETE CASCADE;

CREATE TABLE memberships (
    org_id         bigint NOT NULL REFERENCES organizations (id),
    user_id        bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role           text NOT NULL CHECK (role IN ('admin', 'member', 'viewer')),
    models_seat    text NOT NULL DEFAULT 'full' CHECK (models_seat IN ('full', 'viewer', 'none')),
    weave_access   text NOT NULL DEFAULT 'full' CHECK (weave_access IN ('full', 'viewer', 'none')),
    added_at       timestamptz NOT NULL DEFAULT now(),
    -- accepted_at is NULL while an invitation is pending.
    accepted_at    timestamptz,
    invited_by     bigint REFERENCES users (id) ON DELETE SET NULL,
    last_active_at timestamptz,
    active_days    integer NOT NULL DEFAULT 0,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE team_members (
    team_id  bigint NOT NULL REFERENCES teams (id) ON DELETE CASCADE,
    user_id  bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    added_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX team_members_user ON team_members (user_id);

CREATE TABLE api_keys (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name       text NOT NULL DEFAULT '',
    -- Only the SHA-256 of the key is kept; the key has at least 160 random
    -- bits, so a slow password hash would add cost without adding safety.
    hash       bytea NOT NULL UNIQUE CHECK (length(hash) = 32),
    -- prefix is the key's first characters, shown so a user can tell keys apart.
    prefix     text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz
);
CREATE INDEX api_keys_user ON api_keys (user_id);

-- Instance-wide settings, such as which organization is the instance's own.
CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
