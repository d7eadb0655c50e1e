-- Each integration keeps its latest delivery outcomes itself: the latest
-- failed attempt's error and when that attempt was made, and when an alert
-- was last delivered. They used to be read from the outbox rows, which lost
-- them: a successful retry clears its row's last_error, and pruning deletes
-- finished rows. The delivery worker now writes them in the statement that
-- records each outcome (storage.finishClaim).
ALTER TABLE integrations
    ADD COLUMN last_error      text NOT NULL DEFAULT '',
    ADD COLUMN last_error_at   timestamptz,
    ADD COLUMN last_success_at timestamptz;

-- Backfill from the outbox rows still there: what the API showed before.
-- Dropped rows never reached the receiver, so their reason is no error of
-- an attempt.
UPDATE integrations i SET
    last_success_at = (SELECT max(o.delivered_at) FROM alert_outbox o WHERE o.integration_id = i.id),
    last_error = coalesce((SELECT o.last_error FROM alert_outbox o
        WHERE o.integration_id = i.id AND o.last_error <> '' AND o.status <> 'dropped' AND o.last_attempt_at IS NOT NULL
        ORDER BY o.last_attempt_at DESC, o.id DESC LIMIT 1), ''),
    last_error_at = (SELECT o.last_attempt_at FROM alert_outbox o
        WHERE o.integration_id = i.id AND o.last_error <> '' AND o.status <> 'dropped' AND o.last_attempt_at IS NOT NULL
        ORDER BY o.last_attempt_at DESC, o.id DESC LIMIT 1)
WHERE EXISTS (SELECT 1 FROM alert_outbox o WHERE o.integration_id = i.id);
