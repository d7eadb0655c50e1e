package storage

import (
	"context"
	"fmt"
	"github.com/auditgraph/auditgraph/internal/entity"
)

const configChangeColumns = `id, org_id, actor_user_id, actor_username, action, target, created_at`

// RecordConfigChange appends c (its org, actor, action and target) in the
// transaction of the change it records.
func (tx *Tx) RecordConfigChange(ctx context.Context, c entity.ConfigChange) error {
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
func (q queries) ConfigChanges(ctx context.Context, orgID *int64, beforeID int64, limit int) ([]entity.ConfigChange, error) {
	var cs []entity.ConfigChange
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
