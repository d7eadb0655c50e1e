package retention_test

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/log/retention"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

func TestParse(t *testing.T) {
	for in, want := range map[string]retention.Period{
		"": {}, "forever": {}, "2190d": {Days: 2190}, "6y": {Years: 6}, "1d": {Days: 1},
	} {
		t.Run(cmp.Or(in, "empty"), func(t *testing.T) {
			if got, err := retention.Parse(in); err != nil || got != want {
				t.Errorf("Parse(%q) = %v, %v, want %v", in, got, err, want)
			}
		})
	}
	for _, in := range []string{"6", "y", "0d", "-1d", "+5d", "6m", "1.5y", "6 y", "2000y", "6yd"} {
		t.Run(in, func(t *testing.T) {
			if got, err := retention.Parse(in); err == nil || !strings.Contains(err.Error(), fmt.Sprintf("%q", in)) {
				t.Errorf("Parse(%q) = %v, %v, want an error naming the value", in, got, err)
			}
		})
	}
}

func TestCheckHIPAA(t *testing.T) {
	for _, tc := range []struct {
		in    string
		hipaa bool
		ok    bool
	}{
		{"6y", true, true}, {"7y", true, true}, {"forever", true, true}, {"2192d", true, true},
		{"5y", true, false}, {"2190d", true, false}, {"30d", true, false},
		{"30d", false, true}, {"1y", false, true},
	} {
		t.Run(fmt.Sprintf("%s hipaa=%v", tc.in, tc.hipaa), func(t *testing.T) {
			p, err := retention.Parse(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			err = retention.Check(p, tc.hipaa)
			if (err == nil) != tc.ok || (err != nil && !errors.Is(err, retention.ErrTooShort)) {
				t.Errorf("Check(%s, hipaa=%v) = %v, want ok=%v", tc.in, tc.hipaa, err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "--hipaa requires") {
				t.Errorf("Check(%s) = %q, want it to say what --hipaa requires", tc.in, err)
			}
		})
	}
}

func month(y int, m time.Month) time.Time { return time.Date(y, m, 1, 0, 0, 0, 0, time.UTC) }

func partitionNames(t *testing.T, st *storage.Store) []string {
	t.Helper()
	var names []string
	if err := st.DB().Select(&names, `SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		WHERE i.inhparent = 'audit_events'::regclass ORDER BY 1`); err != nil {
		t.Fatal(err)
	}
	return names
}

// setup stores, in an organization, events in March, April and May of 2016
// and one now, and returns the store and the organization.
func setup(t *testing.T) (*storage.Store, int64) {
	t.Helper()
	ctx := context.Background()
	st := storagetest.New(t)
	var org int64
	err := st.InTx(ctx, func(tx *storage.Tx) error {
		o, err := tx.CreateOrganization(ctx, "acme", "enterprise")
		if err != nil {
			return err
		}
		org = o.ID
		var es []audit.Event
		for _, m := range []time.Month{time.March, time.April, time.May} {
			for d := range 3 {
				es = append(es, audit.Event{Action: "user:login", Timestamp: month(2016, m).AddDate(0, 0, d*10)})
			}
		}
		es = append(es, audit.Event{Action: "user:login", Timestamp: time.Now()})
		return ledger.Append(ctx, tx, org, es)
	})
	if err != nil {
		t.Fatal(err)
	}
	return st, org
}

func TestDropsOnlyExpiredPartitions(t *testing.T) {
	ctx := context.Background()
	st, org := setup(t)
	// At 2022-05-10, 6 years back is 2016-05-10: March and April 2016 lie
	// entirely before it, May 2016 only in part.
	now := time.Date(2022, 5, 10, 12, 0, 0, 0, time.UTC)
	job := &retention.Job{Store: st, Keep: retention.Period{Years: 6}, Now: func() time.Time { return now }}
	dropped, err := job.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"audit_events_2016_03", "audit_events_2016_04"}; !slices.Equal(dropped, want) {
		t.Fatalf("RunOnce dropped %v, want %v", dropped, want)
	}
	parts := partitionNames(t, st)
	if slices.Contains(parts, "audit_events_2016_03") || !slices.Contains(parts, "audit_events_2016_05") {
		t.Errorf("partitions left: %v", parts)
	}
	var left int
	st.DB().Get(&left, `SELECT count(*) FROM audit_events WHERE org_id = $1`, org)
	if left != 4 {
		t.Errorf("%d events left, want May 2016's 3 and today's", left)
	}
	log, err := st.RetentionLog(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 || log[0].Partition != "audit_events_2016_03" || log[0].Events != 3 ||
		!log[0].RangeFrom.Equal(month(2016, time.March)) || !log[0].RangeTo.Equal(month(2016, time.April)) ||
		log[0].OrgRanges[org] != [2]int64{1, 3} || log[1].OrgRanges[org] != [2]int64{4, 6} ||
		!log[0].Cutoff.Equal(time.Date(2016, 5, 10, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("retention log = %+v", log)
	}
	// A second run finds nothing more to drop, and appending to a dropped
	// month still works (its partition is created again).
	if dropped, err := job.RunOnce(ctx); err != nil || len(dropped) != 0 {
		t.Errorf("second RunOnce = %v, %v; want nothing dropped", dropped, err)
	}
	if err := st.InTx(ctx, func(tx *storage.Tx) error {
		return ledger.Append(ctx, tx, org, []audit.Event{{Action: "user:login", Timestamp: month(2016, time.March)}})
	}); err != nil {
		t.Errorf("append to a dropped month: %v", err)
	}
}

func TestKeepsUnsyncedPartitions(t *testing.T) {
	ctx := context.Background()
	st, org := setup(t)
	now := time.Date(2022, 5, 10, 12, 0, 0, 0, time.UTC)
	// Only March 2016 (sequence numbers 1..3) is in the bucket.
	if _, err := st.DB().Exec(`INSERT INTO bucket_sync_orgs (org_id, synced_seq) VALUES ($1, 3)`, org); err != nil {
		t.Fatal(err)
	}
	job := &retention.Job{Store: st, Keep: retention.Period{Years: 6}, RequireSynced: true, Now: func() time.Time { return now }}
	dropped, err := job.RunOnce(ctx)
	if err != nil || !slices.Equal(dropped, []string{"audit_events_2016_03"}) {
		t.Errorf("RunOnce = %v, %v; want only the synced March 2016 dropped", dropped, err)
	}
}

func TestAppendOnlyStillRefused(t *testing.T) {
	ctx := context.Background()
	st, org := setup(t)
	now := time.Date(2022, 5, 10, 12, 0, 0, 0, time.UTC)
	if _, err := (&retention.Job{Store: st, Keep: retention.Period{Years: 6}, Now: func() time.Time { return now }}).RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		fmt.Sprintf(`DELETE FROM audit_events WHERE org_id = %d`, org),
		`DELETE FROM audit_events_2016_05`,
		`UPDATE audit_events SET action = 'user:logout'`,
		`TRUNCATE audit_events`,
		`TRUNCATE audit_events_2016_05`,
		`DROP TABLE audit_events_2016_05`,
		`DROP TABLE audit_events`,
		// A client may set the setting the retention path uses, but it is
		// not inside that path.
		`SET auditgraph.retention_drop = 'audit_events_2016_05'; DROP TABLE audit_events_2016_05`,
	} {
		t.Run(stmt, func(t *testing.T) {
			_, err := st.DB().ExecContext(ctx, stmt)
			var pe *pq.Error
			if !errors.As(err, &pe) || pe.Code != "42501" || !strings.Contains(pe.Message, "append-only") {
				t.Errorf("%s: %v, want the append-only refusal", stmt, err)
			}
		})
	}
	st.DB().Exec(`RESET auditgraph.retention_drop`)
	var n int
	st.DB().Get(&n, `SELECT count(*) FROM audit_events_2016_05`)
	if n != 3 {
		t.Errorf("May 2016 holds %d events after the refused statements, want 3", n)
	}
	// The privileged path refuses a cutoff that is not in the past.
	if _, err := st.ExpirePartitions(ctx, time.Now().Add(time.Hour), false); err == nil {
		t.Error("ExpirePartitions with a future cutoff succeeded")
	}
}

// TestPrunesActorPairsOfDroppedEvents checks that retention forgets an
// actor's (user id, email) pair once no event left carries it, so that no
// email outlives the events that held it, and keeps the pairs of the events
// it keeps.
func TestPrunesActorPairsOfDroppedEvents(t *testing.T) {
	ctx := context.Background()
	st, org := setup(t)
	err := st.InTx(ctx, func(tx *storage.Tx) error {
		return ledger.Append(ctx, tx, org, []audit.Event{
			{Action: "user:login", Timestamp: month(2016, time.March), ActorUserID: "1", ActorEmail: "old@x.io"},
			{Action: "user:login", Timestamp: month(2016, time.May).AddDate(0, 0, 20), ActorUserID: "2", ActorEmail: "two@x.io"},
			{Action: "user:login", Timestamp: time.Now(), ActorUserID: "1", ActorEmail: "new@x.io"},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	pairs := func() []string {
		var ps []string
		if err := st.DB().Select(&ps, `SELECT user_id || ' ' || email FROM audit_event_actors WHERE org_id = $1 ORDER BY 1`, org); err != nil {
			t.Fatal(err)
		}
		return ps
	}
	if got := pairs(); !slices.Equal(got, []string{"1 new@x.io", "1 old@x.io", "2 two@x.io"}) {
		t.Fatalf("pairs before retention: %q", got)
	}
	now := time.Date(2022, 5, 10, 12, 0, 0, 0, time.UTC)
	job := &retention.Job{Store: st, Keep: retention.Period{Years: 6}, Now: func() time.Time { return now }}
	if _, err := job.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := pairs(); !slices.Equal(got, []string{"1 new@x.io", "2 two@x.io"}) {
		t.Errorf("pairs after March and April 2016 expired: %q, want [1 new@x.io 2 two@x.io]", got)
	}
}
