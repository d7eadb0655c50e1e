-- Alert rules, the state of their thresholds, and the outbox their alerts
-- are delivered from.

CREATE TABLE alert_rules (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id           bigint NOT NULL REFERENCES organizations (id),
    name             text NOT NULL CHECK (name ~ '^[^[:cntrl:]]{1,100}$'),
    -- actions: catalog actions or "kind:*" prefixes, checked by package alerting.
    actions          text[] NOT NULL CHECK (cardinality(actions) > 0),
    actor            text NOT NULL DEFAULT '',
    target           text NOT NULL DEFAULT '',
    codes            integer[] NOT NULL DEFAULT '{}',
    code_min         integer NOT NULL DEFAULT 0,
    code_max         integer NOT NULL DEFAULT 0,
    threshold        integer NOT NULL DEFAULT 0 CHECK (threshold >= 0),
    window_seconds   integer NOT NULL DEFAULT 0 CHECK (window_seconds >= 0),
    -- integration_ids: the organization's integrations the alerts go to
    -- (integrations are never deleted, only disconnected).
    integration_ids  bigint[] NOT NULL CHECK (cardinality(integration_ids) > 0),
    enabled          boolean NOT NULL DEFAULT true,
    suggestion       text NOT NULL DEFAULT '',
    created_by       bigint REFERENCES users (id) ON DELETE SET NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (org_id, name)
);
-- Ingest reads an organization's enabled rules once per transaction.
CREATE INDEX alert_rules_org_enabled ON alert_rules (org_id) WHERE enabled;

-- The state of a threshold rule per actor: the latest matching times in
-- Unix microseconds (at most the threshold's worth, within one window) and whether the next
-- crossing fires. Written in the ingest transaction, which holds the
-- organization's row lock, so one organization's counters never race.
CREATE TABLE alert_counters (
    rule_id bigint NOT NULL REFERENCES alert_rules (id) ON DELETE CASCADE,
    actor   text NOT NULL,
    hits    bigint[] NOT NULL,
    armed   boolean NOT NULL,
    PRIMARY KEY (rule_id, actor)
);

-- One row per alert and integration, written in the transaction that stores
-- the event. Workers claim due rows with FOR UPDATE SKIP LOCKED and hold
-- them for a lease (claimed_until, claim_token); a worker that dies leaves
-- the row to be claimed again when the lease ends.
CREATE TABLE alert_outbox (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    org_id           bigint NOT NULL REFERENCES organizations (id),
    integration_id   bigint NOT NULL REFERENCES integrations (id),
    -- rule_id is NULL for a test alert, and once the rule is deleted.
    rule_id          bigint REFERENCES alert_rules (id) ON DELETE SET NULL,
    rule_name        text NOT NULL,
    -- event_seq: the organization's event; NULL for a test alert.
    event_seq        bigint,
    idempotency_key  text NOT NULL,
    -- status: pending (to send), delivered, failed (gave up), dropped (the
    -- integration was revoked or disconnected before it could be sent).
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed', 'dropped')),
    attempts         integer NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz NOT NULL DEFAULT now(),
    claimed_until    timestamptz,
    claim_token      text,
    last_error       text NOT NULL DEFAULT '',
    last_attempt_at  timestamptz,
    delivered_at     timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    UNIQUE (integration_id, idempotency_key)
);
-- What workers poll: due rows only.
CREATE INDEX alert_outbox_due ON alert_outbox (next_attempt_at) WHERE status = 'pending';
CREATE INDEX alert_outbox_integration ON alert_outbox (integration_id, id);
