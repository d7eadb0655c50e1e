package ledger_test

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// The server's own events do not mark their actor active: the request that
// made the change is counted by the activity tracker. The same event
// reported by the platform does.
func TestOnlyReportedEventsMarkActivity(t *testing.T) {
	t.Parallel()
	s := storagetest.New(t)
	ctx := context.Background()
	org, user := storagetest.NewOrgWithMember(t, s, "acme", "ann@acme.io")
	e := audit.Event{Action: audit.RunUpdate, Timestamp: time.Now(), ActorUserID: strconv.FormatInt(user, 10)}
	if err := s.InTx(ctx, func(tx *storage.Tx) error { return ledger.Append(ctx, tx, org, []audit.Event{e}) }); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Membership(ctx, org, user); err != nil || m.ActiveDays != 0 {
		t.Errorf("active days after Append = %d, %v; want 0", m.ActiveDays, err)
	}
	if _, err := ledger.Ingest(ctx, s, org, []ledger.IngestEvent{{Event: e}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if m, err := s.Membership(ctx, org, user); err != nil || m.ActiveDays != 1 {
		t.Errorf("active days after Ingest = %d, %v; want 1", m.ActiveDays, err)
	}
}

// Both paths stamp an event without a timestamp and leave the caller's
// events as they were.
func TestAppendLeavesTheCallersEvents(t *testing.T) {
	t.Parallel()
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "ann@acme.io")
	own := []audit.Event{{Action: audit.UserRead}}
	reported := []ledger.IngestEvent{{Event: audit.Event{Action: audit.RunStop}}}
	before := time.Now()
	if err := s.InTx(ctx, func(tx *storage.Tx) error { return ledger.Append(ctx, tx, org, own) }); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Ingest(ctx, s, org, reported, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if !own[0].Timestamp.IsZero() || !reported[0].Timestamp.IsZero() {
		t.Errorf("caller's timestamps after Append and Ingest = %v, %v; want both zero", own[0].Timestamp, reported[0].Timestamp)
	}
	stored, err := s.OrgEvents(ctx, org, 0, 10)
	if err != nil || len(stored) != 2 {
		t.Fatalf("OrgEvents = %d events, %v; want 2", len(stored), err)
	}
	for _, e := range stored {
		if e.Timestamp.Before(before.Truncate(time.Microsecond)) || e.Timestamp.After(time.Now()) {
			t.Errorf("event %d stored at %v, want the time of its append", e.Seq, e.Timestamp)
		}
	}
}

// BenchmarkIngest measures reported batches of 1,000 events (each with a
// client id and an actor) into one organization's log, without alert rules.
func BenchmarkIngest(b *testing.B) {
	s := storagetest.New(b)
	ctx := context.Background()
	var org int64
	err := s.InTx(ctx, func(tx *storage.Tx) error {
		o, err := tx.CreateOrganization(ctx, "acme", "enterprise")
		org = o.ID
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	const size = 1000
	batch := make([]ledger.IngestEvent, size)
	now := time.Now()
	n := 0
	for b.Loop() {
		for i := range batch {
			n++
			batch[i] = ledger.IngestEvent{ClientID: fmt.Sprint("e", n), Event: audit.Event{Action: audit.RunUpdate,
				Timestamp: now, ActorEmail: fmt.Sprintf("u%d@acme.io", n%50), ProjectName: "p", EntityName: "e", ResponseCode: 200}}
		}
		if res, err := ledger.Ingest(ctx, s, org, batch, time.Time{}); err != nil || res.Stored != size {
			b.Fatalf("Ingest = %+v, %v", res, err)
		}
	}
	b.ReportMetric(float64(b.N*size)/b.Elapsed().Seconds(), "events/s")
}
