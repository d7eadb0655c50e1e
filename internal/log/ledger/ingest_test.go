package ledger_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestIngestIsIdempotent(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	ts := time.Now().Add(-time.Hour)
	batch := []ledger.IngestEvent{ev("a", audit.RunUpdate, ts), ev("b", audit.RunStop, ts), ev("", audit.UserLogin, ts), ev("a", audit.RunUpdate, ts)}
	res, err := ledger.Ingest(ctx, s, org, batch, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 3 || res.Duplicates != 1 || res.FirstSeq != 1 || res.LastSeq != 3 {
		t.Errorf("first Ingest = %+v, want 3 stored (seq 1..3), 1 duplicate", res)
	}
	res, err = ledger.Ingest(ctx, s, org, batch[:2], time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 0 || res.Duplicates != 2 {
		t.Errorf("retried Ingest = %+v, want 0 stored, 2 duplicates", res)
	}
	if n := storagetest.CountEvents(t, s, org); n != 3 {
		t.Errorf("events stored = %d, want 3", n)
	}
	// The same client id in another organization is another event.
	other, _ := storagetest.NewOrgWithMember(t, s, "other", "o@other.io")
	if res, err := ledger.Ingest(ctx, s, other, batch[:1], time.Time{}); err != nil || res.Stored != 1 {
		t.Errorf("Ingest into another org = %+v, %v; want 1 stored", res, err)
	}
}

func TestIngestAllOrNothing(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	ts := time.Now()
	bad := []ledger.IngestEvent{ev("a", audit.RunUpdate, ts), ev("b", "run:explode", ts)}
	if _, err := ledger.Ingest(ctx, s, org, bad, time.Time{}); err == nil {
		t.Fatal("Ingest with an unknown action succeeded")
	}
	if n := storagetest.CountEvents(t, s, org); n != 0 {
		t.Errorf("events after a failed batch = %d, want 0", n)
	}
	// The failed batch's ids were not remembered: resending the good part stores it.
	if res, err := ledger.Ingest(ctx, s, org, bad[:1], time.Time{}); err != nil || res.Stored != 1 {
		t.Errorf("Ingest after failure = %+v, %v; want 1 stored", res, err)
	}
}

func TestIngestMarksActivity(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, user := storagetest.NewOrgWithMember(t, s, "acme", "Ann@acme.io")
	day1 := time.Date(2026, 1, 10, 23, 59, 0, 0, time.UTC)
	day2 := time.Date(2026, 1, 11, 0, 1, 0, 0, time.UTC)
	s.EnsurePartitions(ctx, day1, day2)
	byID := ledger.IngestEvent{Event: audit.Event{Action: audit.RunUpdate, Timestamp: day1, ActorUserID: fmt.Sprint(user)}}
	byEmail := ledger.IngestEvent{Event: audit.Event{Action: audit.RunUpdate, Timestamp: day2, ActorEmail: "ann@ACME.io"}}
	sameDay := ledger.IngestEvent{Event: audit.Event{Action: audit.RunStop, Timestamp: day2.Add(time.Hour), ActorEmail: "ann@acme.io"}}
	stranger := ledger.IngestEvent{Event: audit.Event{Action: audit.RunStop, Timestamp: day2, ActorEmail: "zed@else.io"}}
	if _, err := ledger.Ingest(ctx, s, org, []ledger.IngestEvent{byID, byEmail, stranger}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.Ingest(ctx, s, org, []ledger.IngestEvent{sameDay}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	m, err := s.Membership(ctx, org, user)
	if err != nil {
		t.Fatal(err)
	}
	if m.ActiveDays != 2 || m.LastActiveAt == nil || !m.LastActiveAt.Equal(day2.Add(time.Hour)) {
		t.Errorf("membership = %d active days, last %v; want 2 days, last %v", m.ActiveDays, m.LastActiveAt, day2.Add(time.Hour))
	}
	var days int
	s.DB().Get(&days, `SELECT count(*) FROM activity_days WHERE org_id = $1`, org)
	if days != 2 {
		t.Errorf("activity_days rows = %d, want 2 (the stranger is no member)", days)
	}
	// Before the cut-off nothing counts.
	org2, user2 := storagetest.NewOrgWithMember(t, s, "late", "l@late.io")
	early := ledger.IngestEvent{Event: audit.Event{Action: audit.RunUpdate, Timestamp: day1, ActorUserID: fmt.Sprint(user2)}}
	if _, err := ledger.Ingest(ctx, s, org2, []ledger.IngestEvent{early}, day2); err != nil {
		t.Fatal(err)
	}
	if m, _ := s.Membership(ctx, org2, user2); m.ActiveDays != 0 || m.LastActiveAt != nil {
		t.Errorf("activity before cut-off: %d days, last %v; want none", m.ActiveDays, m.LastActiveAt)
	}
}
