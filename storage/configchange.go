package storage

import (
	"context"
	"fmt"
	"time"
)

// Config change actions. The audit catalog is fixed by the platform's
// documentation and has no action for configuration, so these are recorded
// in config_changes instead; names are `thing:verb`.
const (
	ChangeIntegrationConnect    = "integration:connect"
	ChangeIntegrationDisconnect = "integration:disconnect"
	ChangeSlackAppUpdate        = "slack_app:update"
	ChangeSlackAppClear         = "slack_app:clear"
	ChangeAlertRuleCreate       = "alert_rule:create"
	ChangeAlertRuleUpdate       = "alert_rule:update"
	ChangeAlertRuleDelete       = "alert_rule:delete"
	ChangeIntegrationTestAlert  = "integration:test_alert"
)

// ConfigChange is one recorded change of the server's configuration. OrgID
// is nil for an instance-wide change.
type ConfigChange struct {
	ID            int64     `db:"id"`
	OrgID         *int64    `db:"org_id"`
	ActorUserID   *int64    `db:"actor_user_id"`
	ActorUsername string    `db:"actor_username"`
	Action        string    `db:"action"`
	Target        string    `db:"target"`
	CreatedAt     time.Time `db:"created_at"`
}

const configChangeColumns = `id, org_id, actor_user_id, actor_username, action, target, created_at`

// RecordConfigChange appends c (its org, actor, action and target) in the
// transaction of the change it records.
func (tx *Tx) RecordConfigChange(ctx context.Context, c ConfigChange) error {
	_, err := tx.exec(ctx, `INSERT INTO config_changes (org_id, actor_user_id, actor_username, action, target)
		VALUES ($1, $2, $3, $4, $5)`, c.OrgID, c.ActorUserID, c.ActorUsername, c.Action, c.Target)
	if err != nil {
		return fmt.Errorf("storage: record config change %q: %w", c.Action, classify(err))
	}
	return nil
}

// ConfigChanges returns up to limit changes of an organization (orgID nil:
// the instance-wide ones) with ids below beforeID (0: from the newest),
// newest first.
func (q queries) ConfigChanges(ctx context.Context, orgID *int64, beforeID int64, limit int) ([]ConfigChange, error) {
	var cs []ConfigChange
	err := q.sel(ctx, &cs, `SELECT `+configChangeColumns+` FROM config_changes
		WHERE org_id IS NOT DISTINCT FROM $1 AND ($2::bigint = 0 OR id < $2::bigint) ORDER BY id DESC LIMIT $3`, orgID, beforeID, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: config changes: %w", err)
	}
	return cs, nil
}

// CountConfigChanges counts an organization's changes (orgID nil: the
// instance-wide ones).
func (q queries) CountConfigChanges(ctx context.Context, orgID *int64) (int, error) {
	var n int
	if err := q.get(ctx, &n, `SELECT count(*) FROM config_changes WHERE org_id IS NOT DISTINCT FROM $1`, orgID); err != nil {
		return 0, fmt.Errorf("storage: count config changes: %w", err)
	}
	return n, nil
}
