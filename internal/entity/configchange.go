package entity

import "time"

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
