package activity_test

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/identity/activity"
	"github.com/auditgraph/auditgraph/storage"
)

// recorder keeps what the tracker writes, failing while fail is set.
type recorder struct {
	got  []storage.Activity
	fail bool
}

func (r *recorder) RecordActivity(_ context.Context, acts []storage.Activity) error {
	if r.fail {
		return errors.New("database down")
	}
	r.got = append(r.got, acts...)
	return nil
}

func TestTrackerPending(t *testing.T) {
	rec := &recorder{}
	tr := activity.NewTracker(rec, slog.New(slog.DiscardHandler))
	if n, oldest := tr.Pending(); n != 0 || !oldest.IsZero() {
		t.Errorf("Pending() of a new tracker = %d, %v, want 0 and zero", n, oldest)
	}
	t0 := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	tr.Seen(1, t0.Add(2*time.Second))
	tr.Seen(2, t0)
	tr.Seen(1, t0.Add(5*time.Second))
	if n, oldest := tr.Pending(); n != 2 || !oldest.Equal(t0) {
		t.Errorf("Pending() = %d, %v, want 2 users since %v", n, oldest, t0)
	}
	rec.fail = true
	if err := tr.Flush(context.Background()); err == nil {
		t.Fatal("Flush with the recorder failing: no error")
	}
	if n, oldest := tr.Pending(); n != 2 || !oldest.Equal(t0) {
		t.Errorf("Pending() after a failed flush = %d, %v, want the batch kept: 2 users since %v", n, oldest, t0)
	}
	rec.fail = false
	if err := tr.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n, oldest := tr.Pending(); n != 0 || !oldest.IsZero() {
		t.Errorf("Pending() after a flush = %d, %v, want 0 and zero", n, oldest)
	}
	slices.SortFunc(rec.got, func(a, b storage.Activity) int { return int(a.UserID - b.UserID) })
	want := []storage.Activity{{UserID: 1, At: t0.Add(5 * time.Second)}, {UserID: 2, At: t0}}
	if !slices.Equal(rec.got, want) {
		t.Errorf("recorded %v, want %v", rec.got, want)
	}
}

// Run writes what was seen once more as it ends, so that a server stopped
// cleanly loses no request's activity, and returns nil.
func TestTrackerRunFlushesAtTheEnd(t *testing.T) {
	rec := &recorder{}
	tr := activity.NewTracker(rec, slog.New(slog.DiscardHandler))
	at := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	tr.Seen(7, at)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- tr.Run(ctx) }()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after its context ended = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return within 10s of its context ending")
	}
	if want := []storage.Activity{{UserID: 7, At: at}}; !slices.Equal(rec.got, want) {
		t.Errorf("written = %v, want %v", rec.got, want)
	}
}
