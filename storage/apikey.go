package storage

import (
	"context"
	"fmt"
	"github.com/auditgraph/auditgraph/internal/entity"
	"time"
)

const apiKeyColumns = `id, user_id, name, prefix, created_at, last_used_at`

// CreateAPIKey stores the hash of a new key.
func (tx *Tx) CreateAPIKey(ctx context.Context, userID int64, name, prefix string, hash []byte) (entity.APIKey, error) {
	var k entity.APIKey
	err := tx.get(ctx, &k, `INSERT INTO api_keys (user_id, name, prefix, hash) VALUES ($1, $2, $3, $4)
		RETURNING `+apiKeyColumns, userID, name, prefix, hash)
	if err != nil {
		return k, fmt.Errorf("storage: create API key for user %d: %w", userID, classify(err))
	}
	return k, nil
}

// APIKey returns the key with id.
func (q queries) APIKey(ctx context.Context, id int64) (entity.APIKey, error) {
	var k entity.APIKey
	err := q.get(ctx, &k, `SELECT `+apiKeyColumns+` FROM api_keys WHERE id = $1`, id)
	return k, notFound(err, "storage: get API key %d", id)
}

// UserAPIKeys returns a user's keys, oldest first.
func (q queries) UserAPIKeys(ctx context.Context, userID int64) ([]entity.APIKey, error) {
	var ks []entity.APIKey
	if err := q.sel(ctx, &ks, `SELECT `+apiKeyColumns+` FROM api_keys WHERE user_id = $1 ORDER BY id`, userID); err != nil {
		return nil, fmt.Errorf("storage: API keys of user %d: %w", userID, err)
	}
	return ks, nil
}

// DeleteAPIKey removes a key.
func (tx *Tx) DeleteAPIKey(ctx context.Context, id int64) error {
	n, err := tx.exec(ctx, `DELETE FROM api_keys WHERE id = $1`, id)
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	return notFound(err, "storage: delete API key %d", id)
}

// Authenticate returns the user owning the key with hash, with the key's id.
// It does not check whether the user is deactivated: callers decide.
func (q queries) Authenticate(ctx context.Context, hash []byte) (entity.User, int64, error) {
	var row struct {
		entity.User

		KeyID int64 `db:"key_id"`
	}
	err := q.get(ctx, &row, `SELECT u.id, u.username, u.name, COALESCE(u.email, '') AS email, u.instance_admin,
		u.service_account_team, u.default_org_id, u.deactivated_at, u.created_at, k.id AS key_id
		FROM api_keys k JOIN users u ON u.id = k.user_id WHERE k.hash = $1`, hash)
	return row.User, row.KeyID, notFound(err, "storage: authenticate")
}

// TouchAPIKeys records that keys were used at t. It is called in batches so
// that authentication does not write once per request.
func (q queries) TouchAPIKeys(ctx context.Context, ids []int64, t time.Time) error {
	_, err := q.exec(ctx, `UPDATE api_keys SET last_used_at = $2 WHERE id = ANY($1)
		AND (last_used_at IS NULL OR last_used_at < $2)`, int64Array(ids), t)
	if err != nil {
		return fmt.Errorf("storage: touch API keys: %w", err)
	}
	return nil
}
