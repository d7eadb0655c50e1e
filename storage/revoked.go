package storage

import (
	"context"
	"fmt"
)

// Why a key authenticated earlier no longer would.
const (
	RevokedKeyDeleted     = "API key deleted"
	RevokedUserDeactivate = "user deactivated"
)

// RevokedKeys returns, of the API keys with ids, those that no longer
// authenticate, each with why: RevokedKeyDeleted (the key, or its user, is
// gone) or RevokedUserDeactivate. One query for any number of keys.
func (q queries) RevokedKeys(ctx context.Context, ids []int64) (map[int64]string, error) {
	var rows []struct {
		ID      int64 `db:"id"`
		Deleted bool  `db:"deleted"`
	}
	err := q.sel(ctx, &rows, `SELECT i.id, k.id IS NULL AS deleted
		FROM unnest($1::bigint[]) AS i(id)
		LEFT JOIN api_keys k ON k.id = i.id
		LEFT JOIN users u ON u.id = k.user_id
		WHERE k.id IS NULL OR u.deactivated_at IS NOT NULL`, int64Array(ids))
	if err != nil {
		return nil, fmt.Errorf("storage: revoked API keys: %w", err)
	}
	out := make(map[int64]string, len(rows))
	for _, r := range rows {
		out[r.ID] = RevokedUserDeactivate
		if r.Deleted {
			out[r.ID] = RevokedKeyDeleted
		}
	}
	return out, nil
}
