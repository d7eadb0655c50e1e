package storage_test

import (
	"context"
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// TestEventColumnsRoundTrip stores, by both write paths (the batch INSERT
// and the COPY), events each of which has one documented key set beyond the
// action and the time, and reads them back by every reader of the key
// columns: each event must come back as written.
func TestEventColumnsRoundTrip(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	ts := time.Date(2026, 2, 3, 4, 5, 6, 789000, time.UTC)
	var want []audit.Event
	for i, k := range audit.Specs {
		e := audit.Event{Action: audit.RunUpdate, Timestamp: ts}
		f := reflect.ValueOf(&e).Elem().Field(i)
		switch k.Kind {
		case audit.Code:
			f.SetInt(404)
		case audit.Text:
			if k.Key != audit.KeyAction {
				f.SetString(fmt.Sprintf("%s \"value\"", k.Key))
			}
		}
		want = append(want, e)
	}
	batch := make([]ledger.IngestEvent, len(want))
	for i, e := range want {
		batch[i] = ledger.IngestEvent{Event: e}
	}
	if _, err := ledger.Ingest(ctx, s, org, batch, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.InTx(ctx, func(tx *storage.Tx) error { return ledger.Append(ctx, tx, org, want) }); err != nil {
		t.Fatal(err)
	}
	want = append(want, want...) // the COPY's, then the INSERT's
	n := int64(len(want))

	check := func(reader string, seq int64, got audit.Event) {
		t.Helper()
		if w := want[seq-1]; got != w {
			t.Errorf("%s: event %d = %+v, want %+v", reader, seq, got, w)
		}
	}
	es, err := s.OrgEvents(ctx, org, 0, len(want))
	if err != nil || len(es) != len(want) {
		t.Fatalf("OrgEvents = %d events, %v; want %d", len(es), err, len(want))
	}
	for _, e := range es {
		check("OrgEvents", e.Seq, e.Event)
	}
	es, err = s.EventsBySeq(ctx, org, 1, n)
	if err != nil || len(es) != len(want) {
		t.Fatalf("EventsBySeq = %d events, %v; want %d", len(es), err, len(want))
	}
	for _, e := range es {
		check("EventsBySeq", e.Seq, e.Event)
	}
	if err := s.StreamOrgEvents(ctx, org, 1, n, func(e storage.StoredEvent) error {
		check("StreamOrgEvents", e.Seq, e.Event)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.InSnapshot(ctx, func(tx *storage.Tx) error {
		return tx.ChainEvents(ctx, org, 1, n, func(e *storage.ChainEvent) error {
			check("ChainEvents", e.Seq, e.Event)
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
}
