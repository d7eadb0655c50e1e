package storage

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"
)

// The settings that hold the Slack app's registration. The client secret is
// stored sealed (package secretbox), base64-encoded since settings are text.
const (
	settingSlackClientID     = "slack_app_client_id"
	settingSlackClientSecret = "slack_app_client_secret_sealed"
)

// SlackApp is the instance's Slack app registration as stored.
type SlackApp struct {
	ClientID           string
	ClientSecretSealed []byte
	UpdatedAt          time.Time
}

// SlackApp returns the Slack app registration; ErrNotFound when none is
// stored.
func (q queries) SlackApp(ctx context.Context) (SlackApp, error) {
	var rows []struct {
		Key       string    `db:"key"`
		Value     string    `db:"value"`
		UpdatedAt time.Time `db:"updated_at"`
	}
	if err := q.sel(ctx, &rows, `SELECT key, value, updated_at FROM settings WHERE key IN ($1, $2)`,
		settingSlackClientID, settingSlackClientSecret); err != nil {
		return SlackApp{}, fmt.Errorf("storage: get Slack app: %w", err)
	}
	var app SlackApp
	for _, r := range rows {
		switch r.Key {
		case settingSlackClientID:
			app.ClientID = r.Value
		case settingSlackClientSecret:
			b, err := base64.StdEncoding.DecodeString(r.Value)
			if err != nil {
				return SlackApp{}, fmt.Errorf("storage: get Slack app: client secret is not base64: %w", err)
			}
			app.ClientSecretSealed = b
		}
		app.UpdatedAt = r.UpdatedAt
	}
	if app.ClientID == "" || app.ClientSecretSealed == nil {
		return SlackApp{}, fmt.Errorf("storage: get Slack app: %w", ErrNotFound)
	}
	return app, nil
}

// SetSlackApp stores the Slack app's client ID and sealed client secret.
func (tx *Tx) SetSlackApp(ctx context.Context, clientID string, secretSealed []byte) error {
	if err := tx.SetSetting(ctx, settingSlackClientID, clientID); err != nil {
		return err
	}
	return tx.SetSetting(ctx, settingSlackClientSecret, base64.StdEncoding.EncodeToString(secretSealed))
}

// ClearSlackApp removes the Slack app registration; ErrNotFound when none
// was stored.
func (tx *Tx) ClearSlackApp(ctx context.Context) error {
	n, err := tx.exec(ctx, `DELETE FROM settings WHERE key IN ($1, $2)`, settingSlackClientID, settingSlackClientSecret)
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	return notFound(err, "storage: clear Slack app")
}

// HoldsSealedSecrets reports whether the database holds anything sealed
// under the instance key: a Slack app registration or any integration.
func (q queries) HoldsSealedSecrets(ctx context.Context) (bool, error) {
	var held bool
	err := q.get(ctx, &held, `SELECT EXISTS (SELECT 1 FROM settings WHERE key = $1) OR EXISTS (SELECT 1 FROM integrations)`,
		settingSlackClientSecret)
	if err != nil {
		return false, fmt.Errorf("storage: look for sealed secrets: %w", err)
	}
	return held, nil
}

// UseOAuthState records that the state with id, valid until expires, has
// been spent; ErrConflict when it was spent before. States that expired
// before now are forgotten on the way, since their signature check refuses
// them anyway.
func (tx *Tx) UseOAuthState(ctx context.Context, id string, expires, now time.Time) error {
	if _, err := tx.exec(ctx, `DELETE FROM oauth_states_used WHERE expires_at < $1`, now); err != nil {
		return fmt.Errorf("storage: forget expired OAuth states: %w", err)
	}
	n, err := tx.exec(ctx, `INSERT INTO oauth_states_used (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING`, id, expires)
	if err != nil {
		return fmt.Errorf("storage: use OAuth state: %w", err)
	}
	if n == 0 {
		return fmt.Errorf("storage: use OAuth state: %w", ErrConflict)
	}
	return nil
}
