package storage

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// StoredBefore describes the chained events of a range stored before a
// time: how many, the highest sequence number among them and when the
// earliest of them was stored.
type StoredBefore struct {
	Events  int64
	LastSeq int64
	Oldest  time.Time
}

// EventsStoredBefore returns the organization's chained events with
// sequence number in [from, to] that were stored (received_at) before
// cutoff; verification asks it about events no checkpoint covers.
func (q queries) EventsStoredBefore(ctx context.Context, orgID, from, to int64, cutoff time.Time) (StoredBefore, error) {
	var (
		s      StoredBefore
		oldest sql.NullTime
	)
	err := q.q.QueryRowxContext(ctx, `SELECT count(*), coalesce(max(seq), 0), min(received_at) FROM audit_events
		WHERE org_id = $1 AND seq BETWEEN $2 AND $3 AND hash IS NOT NULL AND received_at < $4`,
		orgID, from, to, cutoff).Scan(&s.Events, &s.LastSeq, &oldest)
	if err != nil {
		return s, fmt.Errorf("storage: events of organization %d stored before %s: %w", orgID, cutoff.Format(time.RFC3339), err)
	}
	s.Oldest = oldest.Time
	return s, nil
}
