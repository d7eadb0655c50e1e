package entity

import "time"

// Integration statuses.
const (
	IntegrationOK           = "ok"
	IntegrationFailing      = "failing"
	IntegrationRevoked      = "revoked"
	IntegrationDisconnected = "disconnected"
)

// Integration is a notifier target of an organization as stored: its URL and
// signing secret are sealed (package secretbox) and only their owner opens
// them.
type Integration struct {
	ID                  int64     `db:"id"`
	OrgID               int64     `db:"org_id"`
	Name                string    `db:"name"`
	Kind                string    `db:"kind"`
	URLSealed           []byte    `db:"url_sealed"`
	SigningSecretSealed []byte    `db:"signing_secret_sealed"`
	SlackChannel        string    `db:"slack_channel"`
	SlackChannelID      string    `db:"slack_channel_id"`
	SlackTeam           string    `db:"slack_team"`
	SlackTeamID         string    `db:"slack_team_id"`
	Status              string    `db:"status"`
	StatusReason        string    `db:"status_reason"`
	CreatedBy           *int64    `db:"created_by"`
	CreatedAt           time.Time `db:"created_at"`
	StatusChangedAt     time.Time `db:"status_changed_at"`
}
