package storage_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// Matches, which filters events delivered live, agrees with the SQL of
// Events on every condition but the time window.
func TestEventFilterMatchesAgreesWithEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := storagetest.New(t)
	org, _ := newOrg(t, s, "acme", "a@x.io")
	batch := []audit.Event{
		{Action: audit.UserLogin, ActorEmail: "alice@x.io", ActorUserID: "7", ResponseCode: 200},
		{Action: audit.UserLogin, ActorEmail: "bob@x.io", ResponseCode: 401},
		{Action: audit.UserCreate, ActorUserID: "7", UserEmail: "carol@x.io", UserAsset: "user-9"},
		{Action: audit.RunUpdate, EntityName: "ml", EntityAsset: "entity-1", ProjectName: "p", ProjectAsset: "project-2", ResponseCode: 500},
		{Action: audit.ArtifactRead, EntityAsset: "ml", ProjectAsset: "p"},
	}
	in := make([]ledger.IngestEvent, len(batch))
	for i, e := range batch {
		in[i] = ledger.IngestEvent{Event: e}
	}
	if _, err := ledger.Ingest(ctx, s, org, in, time.Time{}); err != nil {
		t.Fatal(err)
	}
	stored, err := s.EventsBySeq(ctx, org, 1, int64(len(batch)))
	if err != nil || len(stored) != len(batch) {
		t.Fatalf("EventsBySeq(1, %d) = %d events, %v", len(batch), len(stored), err)
	}
	for _, f := range []storage.EventFilter{
		{},
		{Actions: []string{"user:login", "run:update"}},
		{Actor: "7"},
		{Actor: "bob@x.io"},
		{TargetUser: "carol@x.io"},
		{TargetUser: "user-9"},
		{Entity: "ml"},
		{Project: "p"},
		{CodeMin: 400},
		{CodeMax: 299},
		{CodeMin: 200, CodeMax: 499},
		{Actions: []string{"user:login"}, CodeMin: 400},
	} {
		f.OrgID, f.Start, f.End, f.Limit = org, time.Unix(0, 0), time.Now().Add(time.Hour), 100
		rows, _, _, err := s.Events(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		var sql, live []int64
		for _, e := range rows {
			sql = append(sql, e.Seq)
		}
		for _, e := range stored {
			if f.Matches(e.Event) {
				live = append(live, e.Seq)
			}
		}
		slices.Sort(sql)
		if !slices.Equal(live, sql) {
			t.Errorf("%+v: Matches selects %v, Events %v", f, live, sql)
		}
	}
}

func TestParseAppended(t *testing.T) {
	if got, err := storage.ParseAppended(`{"org":1,"from":10,"to":20}`); err != nil || got != (storage.Appended{Org: 1, From: 10, To: 20}) {
		t.Errorf("ParseAppended = %+v, %v; want {1 10 20}", got, err)
	}
	for _, bad := range []string{``, `{}`, `{"org":1,"from":5,"to":4}`, `{"org":"x"}`} {
		if _, err := storage.ParseAppended(bad); err == nil {
			t.Errorf("ParseAppended(%q) = nil error, want one", bad)
		}
	}
}
