package storage_test

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/chain"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// Both write paths chain what they store: each row's hash follows from its
// predecessor's and its own stored content, and organizations.last_hash is
// the newest row's.
func TestStoredEventsAreChained(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := newOrg(t, s, "acme", "a@acme.io")
	ts := time.Now().Add(-time.Hour).Truncate(time.Second).Add(999_999_999) // rounds up if not truncated first
	if _, err := s.Ingest(ctx, org, []storage.IngestEvent{ev("a", audit.RunUpdate, ts), ev("", audit.RunStop, time.Time{})}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	err := s.InTx(ctx, func(tx *storage.Tx) error {
		return tx.AppendEvents(ctx, org, []audit.Event{{Action: audit.UserUpdate, UserEmail: "b@acme.io", Timestamp: ts}, {Action: audit.UserRead}})
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ingest(ctx, org, []storage.IngestEvent{ev("b", audit.RunStop, ts)}, time.Time{}); err != nil {
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
