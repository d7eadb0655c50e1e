package storage

import (
	"context"
	"fmt"
	"github.com/auditgraph/auditgraph/internal/entity"
)

const integrationColumns = `id, org_id, name, kind, url_sealed, signing_secret_sealed, slack_channel,
	slack_channel_id, slack_team, slack_team_id, status, status_reason, created_by, created_at, status_changed_at`

// CreateIntegration stores a new integration from in's org, name, kind,
// sealed secrets, Slack details and creator; it starts ok. A name already
// used by one of the organization's integrations in use is ErrConflict.
func (tx *Tx) CreateIntegration(ctx context.Context, in entity.Integration) (entity.Integration, error) {
	var out entity.Integration
	err := tx.get(ctx, &out, `INSERT INTO integrations (org_id, name, kind, url_sealed, signing_secret_sealed,
			slack_channel, slack_channel_id, slack_team, slack_team_id, created_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING `+integrationColumns,
		in.OrgID, in.Name, in.Kind, in.URLSealed, in.SigningSecretSealed,
		in.SlackChannel, in.SlackChannelID, in.SlackTeam, in.SlackTeamID, in.CreatedBy)
	if err != nil {
		return out, fmt.Errorf("storage: create integration %q in organization %d: %w", in.Name, in.OrgID, classify(err))
	}
	return out, nil
}

// Integration returns the integration with id.
func (q queries) Integration(ctx context.Context, id int64) (entity.Integration, error) {
	var in entity.Integration
	err := q.get(ctx, &in, `SELECT `+integrationColumns+` FROM integrations WHERE id = $1`, id)
	return in, notFound(err, "storage: get integration %d", id)
}

// OrgIntegrations returns up to limit of an organization's integrations with
// ids above afterID, disconnected ones included, oldest first.
func (q queries) OrgIntegrations(ctx context.Context, orgID, afterID int64, limit int) ([]entity.Integration, error) {
	var ins []entity.Integration
	err := q.sel(ctx, &ins, `SELECT `+integrationColumns+` FROM integrations WHERE org_id = $1 AND id > $2
		ORDER BY id LIMIT $3`, orgID, afterID, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: integrations of organization %d: %w", orgID, err)
	}
	return ins, nil
}

// CountOrgIntegrations counts an organization's integrations, disconnected
// ones included.
func (q queries) CountOrgIntegrations(ctx context.Context, orgID int64) (int, error) {
	var n int
	if err := q.get(ctx, &n, `SELECT count(*) FROM integrations WHERE org_id = $1`, orgID); err != nil {
		return 0, fmt.Errorf("storage: count integrations of organization %d: %w", orgID, err)
	}
	return n, nil
}

// SetIntegrationStatus records an integration's status and why. A
// disconnected integration keeps that status: nothing revives it but a new
// install.
func (tx *Tx) SetIntegrationStatus(ctx context.Context, id int64, status, reason string) error {
	n, err := tx.exec(ctx, `UPDATE integrations SET status = $2, status_reason = $3, status_changed_at = now()
		WHERE id = $1 AND status <> 'disconnected'`, id, status, reason)
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	return notFound(classify(err), "storage: set status of integration %d", id)
}

// InUseIntegrationByName returns an organization's integration called name
// that is not disconnected.
func (q queries) InUseIntegrationByName(ctx context.Context, orgID int64, name string) (entity.Integration, error) {
	var in entity.Integration
	err := q.get(ctx, &in, `SELECT `+integrationColumns+` FROM integrations
		WHERE org_id = $1 AND name = $2 AND status <> 'disconnected'`, orgID, name)
	return in, notFound(err, "storage: get integration %q of organization %d", name, orgID)
}
