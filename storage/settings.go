package storage

import (
	"context"
	"fmt"
)

// Setting names.
const (
	// SettingInstanceOrg holds the id of the organization created at first
	// start in self-managed and dedicated mode.
	SettingInstanceOrg = "instance_org_id"
)

// Setting returns the value stored under key.
func (q queries) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := q.get(ctx, &v, `SELECT value FROM settings WHERE key = $1`, key)
	return v, notFound(err, "storage: setting %q", key)
}

// SetSetting stores value under key.
func (tx *Tx) SetSetting(ctx context.Context, key, value string) error {
	_, err := tx.exec(ctx, `INSERT INTO settings (key, value) VALUES ($1, $2)
		ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, updated_at = now()`, key, value)
	if err != nil {
		return fmt.Errorf("storage: set %q: %w", key, err)
	}
	return nil
}

// LockBootstrap takes a transaction-scoped lock that serializes first-start
// initialisation between server processes.
func (tx *Tx) LockBootstrap(ctx context.Context) error {
	if _, err := tx.exec(ctx, `SELECT pg_advisory_xact_lock($1)`, LockBootstrap); err != nil {
		return fmt.Errorf("storage: bootstrap lock: %w", err)
	}
	return nil
}
