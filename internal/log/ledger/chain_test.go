package ledger_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// Both write paths chain what they store: each row's hash follows from its
// predecessor's and its own stored content, and organizations.last_hash is
// the newest row's.
func TestStoredEventsAreChained(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	ts := time.Now().Add(-time.Hour).Truncate(time.Second).Add(999_999_999) // rounds up if not truncated first
	if _, err := ledger.Ingest(ctx, s, org, []ledger.IngestEvent{ev("a", audit.RunUpdate, ts), ev("", audit.RunStop, time.Time{})}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	err := s.InTx(ctx, func(tx *storage.Tx) error {
		return ledger.Append(ctx, tx, org, []audit.Event{{Action: audit.UserUpdate, UserEmail: "b@acme.io", Timestamp: ts}, {Action: audit.UserRead}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Ingest(ctx, s, org, []ledger.IngestEvent{ev("b", audit.RunStop, ts)}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	var h chain.Hasher
	prev := chain.Genesis
	n := 0
	err = s.InSnapshot(ctx, func(tx *storage.Tx) error {
		return tx.ChainEvents(ctx, org, 1, 100, func(e *storage.ChainEvent) error {
			n++
			prev = h.Next(prev, e.Seq, &e.Event)
			if !bytes.Equal(prev[:], e.Hash) {
				t.Errorf("event %d: stored hash %x, recomputed %s", e.Seq, e.Hash, prev)
			}
			return nil
		})
	})
	if err != nil || n != 5 {
		t.Fatalf("ChainEvents: %d events, %v; want 5", n, err)
	}
	var last []byte
	if err := s.DB().Get(&last, `SELECT last_hash FROM organizations WHERE id = $1`, org); err != nil || !bytes.Equal(last, prev[:]) {
		t.Errorf("organizations.last_hash = %x, %v; want %s", last, err, prev)
	}
}

// Concurrent appends through both paths still form one chain: the
// organization's row lock orders them.
func TestConcurrentAppendsFormOneChain(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	errs := make(chan error, 16)
	for g := range 8 {
		go func() {
			var err error
			for i := 0; i < 5 && err == nil; i++ {
				if g%2 == 0 {
					batch := make([]ledger.IngestEvent, 50)
					for j := range batch {
						batch[j] = ev("", audit.RunUpdate, time.Time{})
					}
					_, err = ledger.Ingest(ctx, s, org, batch, time.Time{})
				} else {
					err = s.InTx(ctx, func(tx *storage.Tx) error {
						return ledger.Append(ctx, tx, org, []audit.Event{{Action: audit.UserRead}, {Action: audit.UserUpdate}})
					})
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	var h chain.Hasher
	prev, next := chain.Genesis, int64(1)
	err := s.InSnapshot(ctx, func(tx *storage.Tx) error {
		return tx.ChainEvents(ctx, org, 1, 1<<62, func(e *storage.ChainEvent) error {
			prev = h.Next(prev, e.Seq, &e.Event)
			if e.Seq != next || !bytes.Equal(prev[:], e.Hash) {
				t.Fatalf("event %d (want %d): stored hash %x, recomputed %s", e.Seq, next, e.Hash, prev)
			}
			next++
			return nil
		})
	})
	if err != nil || next != 4*5*50+4*5*2+1 {
		t.Fatalf("chain ends before %d, %v; want %d events", next, err, 4*5*50+4*5*2)
	}
}
