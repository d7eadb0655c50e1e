package storage_test

import (
	"cmp"
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
	org, _ := storagetest.NewOrgWithMember(t, s, "acme", "a@x.io")
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
	for _, tc := range []struct {
		name string
		f    storage.EventFilter
	}{
		{"no filter", storage.EventFilter{}},
		{"two actions", storage.EventFilter{Actions: []string{"user:login", "run:update"}}},
		{"actor user id", storage.EventFilter{Actor: "7"}},
		{"actor email", storage.EventFilter{Actor: "bob@x.io"}},
		{"target email", storage.EventFilter{TargetUser: "carol@x.io"}},
		{"target asset", storage.EventFilter{TargetUser: "user-9"}},
		{"entity", storage.EventFilter{Entity: "ml"}},
		{"project", storage.EventFilter{Project: "p"}},
		{"code min", storage.EventFilter{CodeMin: 400}},
		{"code max", storage.EventFilter{CodeMax: 299}},
		{"code range", storage.EventFilter{CodeMin: 200, CodeMax: 499}},
		{"action and code", storage.EventFilter{Actions: []string{"user:login"}, CodeMin: 400}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := tc.f
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
		})
	}
}

func TestParseAppended(t *testing.T) {
	if got, err := storage.ParseAppended(`{"org":1,"from":10,"to":20}`); err != nil || got != (storage.Appended{Org: 1, From: 10, To: 20}) {
		t.Errorf("ParseAppended = %+v, %v; want {1 10 20}", got, err)
	}
	for _, bad := range []string{``, `{}`, `{"org":1,"from":5,"to":4}`, `{"org":"x"}`} {
		t.Run(cmp.Or(bad, "empty"), func(t *testing.T) {
			if _, err := storage.ParseAppended(bad); err == nil {
				t.Errorf("ParseAppended(%q) = nil error, want one", bad)
			}
		})
	}
}
