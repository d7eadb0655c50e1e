package storage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func ev(id string, a audit.Action, ts time.Time) ledger.IngestEvent {
	return ledger.IngestEvent{ClientID: id, Event: audit.Event{Action: a, Timestamp: ts}}
}

func TestRecordActivity(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, user := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	at := time.Date(2026, 2, 1, 8, 0, 0, 0, time.UTC)
	for i := 0; i < 2; i++ { // the same day twice counts once
		if err := s.RecordActivity(ctx, []storage.Activity{{UserID: user, At: at.Add(time.Duration(i) * time.Hour)}}); err != nil {
			t.Fatal(err)
		}
	}
	m, _ := s.Membership(ctx, org, user)
	if m.ActiveDays != 1 || m.LastActiveAt == nil || !m.LastActiveAt.Equal(at.Add(time.Hour)) {
		t.Errorf("after RecordActivity: %d days, last %v; want 1, %v", m.ActiveDays, m.LastActiveAt, at.Add(time.Hour))
	}
}

func TestStreamEventsOrderAndAnonymize(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	base := time.Now().UTC().Truncate(time.Second).Add(-2 * time.Hour)
	full := audit.Event{Action: audit.ArtifactRead, ActorEmail: "a@x.io", ActorIP: "1.2.3.4", ActorUserID: "9",
		ArtifactAsset: "aa", ArtifactDigest: "ad", ArtifactQualifiedName: "aq", ArtifactSequenceAsset: "as",
		CLIVersion: "1", EntityAsset: "ea", EntityName: "en", ProjectAsset: "pa", ProjectName: "pn",
		ReportAsset: "ra", ReportName: "rn", ResponseCode: 200, Timestamp: base.Add(time.Minute), UserAsset: "ua", UserEmail: "u@x.io"}
	older := audit.Event{Action: audit.UserLogin, Timestamp: base}
	if _, err := ledger.Ingest(ctx, s, org, []ledger.IngestEvent{{Event: full}, {Event: older}}, time.Time{}); err != nil {
		t.Fatal(err)
	}
	read := func(anonymize bool) []string {
		var out []string
		err := s.StreamEvents(ctx, org, base.Add(-time.Hour), base.Add(time.Hour), anonymize, func(b []byte) error {
			out = append(out, string(b))
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	got := read(false)
	if len(got) != 2 {
		t.Fatalf("StreamEvents = %d events, want 2", len(got))
	}
	// Oldest first, and byte-for-byte what the Go encoder writes.
	if want := string(older.AppendJSON(nil)); got[0] != want {
		t.Errorf("first event = %s, want %s", got[0], want)
	}
	if want := string(full.AppendJSON(nil)); got[1] != want {
		t.Errorf("second event = %s, want %s", got[1], want)
	}
	anon := read(true)
	var m map[string]any
	if err := json.Unmarshal([]byte(anon[1]), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range audit.Keys {
		_, present := m[string(k)]
		if present == k.IsPII() {
			t.Errorf("anonymized event: key %s present = %v, want %v", k, present, !k.IsPII())
		}
	}
}

func TestEventsPageCompleteWhileIngesting(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@acme.io")
	base := time.Now().UTC().Add(-3 * time.Hour)
	var batch []ledger.IngestEvent
	for i := 0; i < 250; i++ {
		// Several events share a timestamp, so the sequence breaks ties.
		e := ev(fmt.Sprint("e", i), audit.RunUpdate, base.Add(time.Duration(i/3)*time.Second))
		e.CLIVersion = fmt.Sprint("v", i) // tells the events apart in the output
		batch = append(batch, e)
	}
	if _, err := ledger.Ingest(ctx, s, org, batch, time.Time{}); err != nil {
		t.Fatal(err)
	}
	start, end := base.Add(-time.Minute), base.Add(time.Hour)

	seen := map[string]int{}
	read := func(p storage.Page) {
		for _, raw := range p.Events {
			var e struct {
				Action     string `json:"action"`
				CLIVersion string `json:"cli_version"`
			}
			if err := json.Unmarshal(raw, &e); err != nil {
				t.Fatal(err)
			}
			seen[e.Action+" "+e.CLIVersion]++
		}
	}
	// The first page fixes the snapshot; only then does ingest go on, into
	// the same range, earlier and later than the cursor.
	first, err := s.EventsPage(ctx, org, start, end, 7, "", false)
	if err != nil {
		t.Fatal(err)
	}
	read(first)
	var wg sync.WaitGroup
	stop := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			e := ev(fmt.Sprint("late", i), audit.RunStop, base.Add(time.Duration(i%200)*time.Second))
			e.CLIVersion = fmt.Sprint("late", i)
			if _, err := ledger.Ingest(ctx, s, org, []ledger.IngestEvent{e}, time.Time{}); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	cursor, pages := first.Next, 1
	for cursor != "" {
		p, err := s.EventsPage(ctx, org, start, end, 7, cursor, false)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		read(p)
		cursor = p.Next
		time.Sleep(time.Millisecond) // let the ingest goroutine commit between pages
	}
	close(stop)
	wg.Wait()
	if len(seen) != 250 {
		t.Errorf("pages returned %d distinct events, want exactly the 250 stored before the first page", len(seen))
	}
	for k, n := range seen {
		if n != 1 || k[:10] != "run:update" {
			t.Errorf("event %q returned %d times, want once and only events stored before the first page", k, n)
		}
	}
	if pages != 36 {
		t.Errorf("pages = %d, want 36 (250 events, 7 a page)", pages)
	}
}
