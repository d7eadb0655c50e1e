package storage

import (
	"context"
	"encoding/json"
	"fmt"
)

// ConfigChange is a change of configuration that the audit catalog has no
// action for, such as an alert rule created; the record is append-only.
type ConfigChange struct {
	OrgID       int64
	ActorUserID *int64
	Action      string // such as "alert_rule:create"
	Target      string // what changed, such as the rule's name
	Detail      any    // marshalled to JSON; nil for none
}

// RecordConfigChange appends c to the configuration change log.
func (tx *Tx) RecordConfigChange(ctx context.Context, c ConfigChange) error {
	detail := []byte("{}")
	if c.Detail != nil {
		var err error
		if detail, err = json.Marshal(c.Detail); err != nil {
			return fmt.Errorf("storage: record %s of %q: %w", c.Action, c.Target, err)
		}
	}
	_, err := tx.exec(ctx, `INSERT INTO config_changes (org_id, actor_user_id, action, target, detail)
		VALUES ($1, $2, $3, $4, $5)`, c.OrgID, c.ActorUserID, c.Action, c.Target, detail)
	if err != nil {
		return fmt.Errorf("storage: record %s of %q: %w", c.Action, c.Target, err)
	}
	return nil
}
