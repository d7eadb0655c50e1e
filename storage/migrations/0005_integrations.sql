-- Notifier integrations of an organization: a Slack incoming webhook
-- installed through OAuth, or a signed generic webhook. The URL and the
-- signing secret are sealed with AES-GCM (package secretbox) before they reach
-- the database, so a dump holds neither.

CREATE TABLE integrations (
    id                    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id                bigint NOT NULL REFERENCES organizations (id),
    name                  text NOT NULL CHECK (name ~ '^[^[:cntrl:]]{1,100}$'),
    kind                  text NOT NULL CHECK (kind IN ('slack', 'webhook')),
    url_sealed            bytea NOT NULL,
    -- signing_secret_sealed is set for webhooks only.
    signing_secret_sealed bytea CHECK ((kind = 'webhook') = (signing_secret_sealed IS NOT NULL)),
    -- Slack's description of where the incoming webhook posts.
    slack_channel         text NOT NULL DEFAULT '',
    slack_channel_id      text NOT NULL DEFAULT '',
    slack_team            text NOT NULL DEFAULT '',
    slack_team_id         text NOT NULL DEFAULT '',
    -- status: ok; failing (the last delivery gave up); revoked (the receiver
    -- answered 403, 404 or 410: nothing is sent any more); disconnected (an
    -- admin removed it; kept so its delivery history stays readable).
    status                text NOT NULL DEFAULT 'ok' CHECK (status IN ('ok', 'failing', 'revoked', 'disconnected')),
    status_reason         text NOT NULL DEFAULT '',
    created_by            bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at            timestamptz NOT NULL DEFAULT now(),
    status_changed_at     timestamptz NOT NULL DEFAULT now()
);
-- Names are unique among an organization's integrations still in use.
CREATE UNIQUE INDEX integrations_org_name ON integrations (org_id, name) WHERE status <> 'disconnected';
