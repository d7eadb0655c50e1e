package storage

import (
	"context"
	"fmt"
)

// Notify announces payload on the PostgreSQL channel when tx commits (to
// every connection listening on it, on every replica), and not at all if
// it rolls back. identity uses it for auth.Cache's echo of a change.
func (tx *Tx) Notify(ctx context.Context, channel, payload string) error {
	if _, err := tx.q.ExecContext(ctx, `SELECT pg_notify($1, $2)`, channel, payload); err != nil {
		return fmt.Errorf("storage: notify %s: %w", channel, err)
	}
	return nil
}
