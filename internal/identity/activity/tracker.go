// Package activity keeps track of who used the server when. Ingested events
// mark their actors active in the same transaction (see ledger.Ingest);
// this package adds authenticated API requests, batched so that a busy user
// costs one write per flush, not one per request.
package activity

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/auditgraph/auditgraph/storage"
)

// Recorder stores batches of activity; *storage.Store implements it.
type Recorder interface {
	RecordActivity(ctx context.Context, acts []storage.Activity) error
}

// Tracker collects the users seen active and writes them in batches.
type Tracker struct {
	rec Recorder
	log *slog.Logger

	mu     sync.Mutex
	seen   map[int64]time.Time // user id → latest request time
	oldest time.Time           // the earliest request time not yet written
}

// NewTracker returns a Tracker writing to rec.
func NewTracker(rec Recorder, log *slog.Logger) *Tracker {
	return &Tracker{rec: rec, log: log, seen: map[int64]time.Time{}}
}

// Seen notes that a user made a request at t.
func (t *Tracker) Seen(userID int64, at time.Time) {
	t.mu.Lock()
	if at.After(t.seen[userID]) {
		t.seen[userID] = at
	}
	if t.oldest.IsZero() || at.Before(t.oldest) {
		t.oldest = at
	}
	t.mu.Unlock()
}

// Pending says how many users' activity waits for the next flush, and the
// earliest request time among it (zero when nothing waits).
func (t *Tracker) Pending() (users int, oldest time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.seen), t.oldest
}

// Flush writes what was seen since the last flush. On failure the batch is
// kept for the next flush.
func (t *Tracker) Flush(ctx context.Context) error {
	t.mu.Lock()
	batch := t.seen
	t.seen, t.oldest = map[int64]time.Time{}, time.Time{}
	t.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}
	acts := make([]storage.Activity, 0, len(batch))
	for id, at := range batch {
		acts = append(acts, storage.Activity{UserID: id, At: at})
	}
	if err := t.rec.RecordActivity(ctx, acts); err != nil {
		for _, a := range acts {
			t.Seen(a.UserID, a.At)
		}
		return err
	}
	return nil
}

// FlushInterval is how often Run writes what was seen.
const FlushInterval = 10 * time.Second

// Run flushes every FlushInterval until ctx ends, then flushes once more,
// and returns nil: a failed flush is logged and its batch kept for the next.
func (t *Tracker) Run(ctx context.Context) error {
	tick := time.NewTicker(FlushInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			if err := t.Flush(fctx); err != nil {
				t.log.Error("recording request activity", "err", err)
			}
			cancel()
			return nil
		case <-tick.C:
			if err := t.Flush(ctx); err != nil {
				t.log.Warn("recording request activity", "err", err)
			}
		}
	}
}
