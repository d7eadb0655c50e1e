package storage_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// planNode is the part of EXPLAIN (ANALYZE, FORMAT JSON) the test reads.
type planNode struct {
	NodeType         string     `json:"Node Type"`
	Relation         string     `json:"Relation Name"`
	ActualRows       float64    `json:"Actual Rows"`
	ActualLoops      float64    `json:"Actual Loops"`
	RemovedByFilter  float64    `json:"Rows Removed by Filter"`
	RemovedByRecheck float64    `json:"Rows Removed by Index Recheck"`
	HeapFetches      float64    `json:"Heap Fetches"`
	Plans            []planNode `json:"Plans"`
}

// rowsRead sums the rows the plan's scans of audit_events read: those they
// returned and those their filters dropped, in every loop.
func (n planNode) rowsRead() float64 {
	var r float64
	if strings.Contains(n.NodeType, "Scan") && strings.HasPrefix(n.Relation, "audit_events") {
		r = (n.ActualRows + n.RemovedByFilter + n.RemovedByRecheck) * n.ActualLoops
	}
	for _, c := range n.Plans {
		r += c.rowsRead()
	}
	return r
}

// explainEvents runs Events' statement for f under EXPLAIN ANALYZE and
// returns the rows read and returned, and the plan's text for messages.
func explainEvents(t *testing.T, s *storage.Store, f storage.EventFilter) (read, returned float64, text string) {
	t.Helper()
	q, args, err := storage.EventsQuery(f)
	if err != nil {
		t.Fatal(err)
	}
	var raw string
	if err := s.DB().QueryRowContext(context.Background(), `EXPLAIN (ANALYZE, FORMAT JSON) `+q, args...).Scan(&raw); err != nil {
		t.Fatalf("%v\n%s", err, q)
	}
	var out []struct{ Plan planNode }
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		t.Fatal(err)
	}
	var lines []string
	s.DB().SelectContext(context.Background(), &lines, `EXPLAIN (ANALYZE, COSTS OFF) `+q, args...)
	return out[0].Plan.rowsRead(), out[0].Plan.ActualRows, q + "\n" + strings.Join(lines, "\n")
}

// TestEventSearchReadsWhatItReturns checks, on a generated log of 60,000
// events over three months, that every auditEvents filter but entity and
// project (alone, and actions + responseCodeMin as the dashboard combines
// them; see migration 0012 for the two), newest-first
// and oldest-first, first page and a deep page, reads at most 20 rows per row
// it returns (at most 20 when it returns none), and that the pages Events
// returns are the rows a plain filter over the table returns, in order.
func TestEventSearchReadsWhatItReturns(t *testing.T) {
	s := storagetest.New(t)
	ctx := context.Background()
	org := storagetest.NewOrg(t, s, "search")
	other := storagetest.NewOrg(t, s, "search-other")
	db := s.DB()
	now := time.Now().UTC().Truncate(time.Second)
	start := now.AddDate(0, -3, 0)
	for m := start.AddDate(0, -1, 0); !m.After(now.AddDate(0, 1, 0)); m = m.AddDate(0, 1, 0) {
		if _, err := db.ExecContext(ctx, `SELECT audit_events_ensure_partition($1)`, m); err != nil {
			t.Fatal(err)
		}
	}
	// 60,000 events, one every ~2 minutes: a mix of actions (user:login one
	// in ten, 4% of them refused with 401), actors among 500 people (40%
	// also with their user id; person 7 changed email halfway, person 11
	// acts by user id alone), 30 entities and 300 projects on most, target
	// users on a few, some 404s and rare 500s; and as many in another
	// organization, which no query may read.
	for _, o := range []int64{org, other} {
		if _, err := db.ExecContext(ctx, `INSERT INTO audit_events (org_id, seq, ts, action, actor_user_id, actor_email,
				entity_name, entity_asset, project_name, project_asset, user_asset, user_email, response_code)
			SELECT $1, g, $2::timestamptz + g * interval '131 seconds',
				(ARRAY['run:update','run:update','run:update','artifact:read','artifact:read','artifact:create','project:read',
					'report:read','user:read','user:login'])[1 + g % 10],
				CASE WHEN g % 5 < 2 OR g * 7 % 500 = 11 THEN (g * 7 % 500)::text END,
				CASE WHEN g * 7 % 500 = 7 AND g > 30000 THEN 'renamed7@acme.io'
					WHEN g * 7 % 500 <> 11 THEN 'person' || (g * 7 % 500) || '@acme.io' END,
				CASE WHEN g % 10 < 8 THEN 'team' || (g % 30) END,
				CASE WHEN g % 10 < 8 THEN 'RW50aXR5OjE' || (g % 30) END,
				CASE WHEN g % 10 < 8 THEN 'project' || (g % 300) END,
				CASE WHEN g % 10 < 8 THEN 'UHJvamVjdDo' || (g % 300) END,
				CASE WHEN g % 10 = 8 THEN (g * 3 % 500)::text END,
				CASE WHEN g % 10 = 8 THEN 'person' || (g * 3 % 500) || '@acme.io' END,
				CASE WHEN g % 10 = 9 AND g % 250 < 10 THEN 401 WHEN g % 10 = 3 AND g % 50 = 3 THEN 404
					WHEN g % 997 = 0 THEN 500 ELSE 200 END
			FROM generate_series(1, 60000) g`, o, start); err != nil {
			t.Fatal(err)
		}
	}
	// The actor pairs, as AppendEvents records them with the events
	// (TestAppendEventsRecordsActorPairs).
	if _, err := db.ExecContext(ctx, `INSERT INTO audit_event_actors (org_id, user_id, email)
		SELECT DISTINCT org_id, actor_user_id, actor_email FROM audit_events
		WHERE actor_user_id IS NOT NULL AND actor_email IS NOT NULL ON CONFLICT DO NOTHING`); err != nil {
		t.Fatal(err)
	}
	// User id 12 also came with 70 other emails (no events left under
	// them): more keys than an actor search walks.
	if _, err := db.ExecContext(ctx, `INSERT INTO audit_event_actors (org_id, user_id, email)
		SELECT $1, '12', 'alias' || g || '@acme.io' FROM generate_series(1, 70) g`, org); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `ANALYZE audit_events`); err != nil {
		t.Fatal(err)
	}
	window := func(f storage.EventFilter) storage.EventFilter {
		f.OrgID, f.Start, f.End = org, start.AddDate(0, 0, -1), now.AddDate(0, 0, 1)
		return f
	}
	cases := []struct {
		name string
		f    storage.EventFilter
		// where is the same filter as plain SQL, to check the answers.
		where string
		// unbounded: a filter or combination the indexes do not serve as
		// walks (entity and project have no index, for ingest's sake):
		// logged, not checked.
		unbounded bool
	}{
		{"no filter", storage.EventFilter{}, "true", false},
		{"time window", storage.EventFilter{Start: start.AddDate(0, 1, 0), End: start.AddDate(0, 1, 10)}, "true", false},
		{"one action", storage.EventFilter{Actions: []string{"user:login"}}, "action = 'user:login'", false},
		{"high-volume action (not indexed)", storage.EventFilter{Actions: []string{"run:update"}}, "action = 'run:update'", false},
		{"17 actions (one walk)", storage.EventFilter{Actions: manyActions}, "action IN ('" + strings.Join(manyActions, "', '") + "')", false},
		{"rare action", storage.EventFilter{Actions: []string{"user:delete"}}, "action = 'user:delete'", false},
		{"two actions", storage.EventFilter{Actions: []string{"user:login", "report:read"}}, "action IN ('user:login', 'report:read')", false},
		{"actor by email", storage.EventFilter{Actor: "person7@acme.io"}, "(actor_user_id = 'person7@acme.io' OR actor_email = 'person7@acme.io')", false},
		{"actor by new email", storage.EventFilter{Actor: "renamed7@acme.io"}, "(actor_user_id = 'renamed7@acme.io' OR actor_email = 'renamed7@acme.io')", false},
		{"actor by id (two emails)", storage.EventFilter{Actor: "7"}, "(actor_user_id = '7' OR actor_email = '7')", false},
		{"actor by id (no email)", storage.EventFilter{Actor: "11"}, "(actor_user_id = '11' OR actor_email = '11')", false},
		{"actor by id (more emails than walks)", storage.EventFilter{Actor: "12"}, "(actor_user_id = '12' OR actor_email = '12')", true},
		{"actor nobody", storage.EventFilter{Actor: "nobody@acme.io"}, "(actor_user_id = 'nobody@acme.io' OR actor_email = 'nobody@acme.io')", false},
		{"target user", storage.EventFilter{TargetUser: "person24@acme.io"}, "(user_asset = 'person24@acme.io' OR user_email = 'person24@acme.io')", false},
		{"target user by id", storage.EventFilter{TargetUser: "24"}, "(user_asset = '24' OR user_email = '24')", false},
		{"entity", storage.EventFilter{Entity: "team3"}, "(entity_name = 'team3' OR entity_asset = 'team3')", true},
		{"project", storage.EventFilter{Project: "UHJvamVjdDo17"}, "(project_name = 'UHJvamVjdDo17' OR project_asset = 'UHJvamVjdDo17')", true},
		{"codes >= 400", storage.EventFilter{CodeMin: 400}, "response_code >= 400", false},
		{"codes 500-599", storage.EventFilter{CodeMin: 500, CodeMax: 599}, "response_code BETWEEN 500 AND 599", false},
		{"codes 200-299", storage.EventFilter{CodeMin: 200, CodeMax: 299}, "response_code BETWEEN 200 AND 299", false},
		{"codes 100-199", storage.EventFilter{CodeMin: 100, CodeMax: 199}, "response_code BETWEEN 100 AND 199", false},
		{"dashboard: user:login, codes >= 400", storage.EventFilter{Actions: []string{"user:login"}, CodeMin: 400}, "action = 'user:login' AND response_code >= 400", false},
		{"actor and action", storage.EventFilter{Actor: "person9@acme.io", Actions: []string{"user:login"}}, "(actor_user_id = 'person9@acme.io' OR actor_email = 'person9@acme.io') AND action = 'user:login'", true},
		{"actor and target user", storage.EventFilter{Actor: "7", TargetUser: "person24@acme.io"}, "(actor_user_id = '7' OR actor_email = '7') AND (user_asset = 'person24@acme.io' OR user_email = 'person24@acme.io')", true},
		// A live view's catch-up: the events above a sequence, read on
		// (org_id, seq) whatever the window; what it reads grows with the
		// gap (100 events here), not with the log.
		{"catch-up after a sequence", storage.EventFilter{AfterSeq: 59900}, "seq > 59900", false},
		{"catch-up, user:login, codes >= 400", storage.EventFilter{AfterSeq: 59900, Actions: []string{"user:login"}, CodeMin: 400},
			"seq > 59900 AND action = 'user:login' AND response_code >= 400", true},
		{"catch-up, target user", storage.EventFilter{AfterSeq: 59900, TargetUser: "person24@acme.io"},
			"seq > 59900 AND (user_asset = 'person24@acme.io' OR user_email = 'person24@acme.io')", true},
		{"project and window", storage.EventFilter{Project: "project17", Start: start.AddDate(0, 1, 0), End: start.AddDate(0, 2, 0)}, "(project_name = 'project17' OR project_asset = 'project17')", true},
	}
	for _, c := range cases {
		for _, newest := range []bool{true, false} {
			f := c.f
			if f.Start.IsZero() {
				f = window(f)
			} else {
				f.OrgID = org
			}
			f.NewestFirst, f.Limit = newest, 20
			dir := "ASC"
			if newest {
				dir = "DESC"
			}
			var want []int64
			if err := db.SelectContext(ctx, &want, fmt.Sprintf(`SELECT seq FROM audit_events WHERE org_id = $1 AND ts >= $2 AND ts < $3 AND %s
				ORDER BY ts %s, seq %s`, c.where, dir, dir), org, f.Start, f.End); err != nil {
				t.Fatal(err)
			}
			// The first page, then the pages after it up to the fifth.
			var got []int64
			for page := 1; page <= 5; page++ {
				name := fmt.Sprintf("%s, %s, page %d", c.name, map[bool]string{true: "newest first", false: "oldest first"}[newest], page)
				if page == 1 || page == 5 {
					read, returned, text := explainEvents(t, s, f)
					if read > 20*max(returned, 1) && !c.unbounded {
						t.Errorf("%s: read %.0f rows to return %.0f:\n%s", name, read, returned, text)
					} else if testing.Verbose() {
						t.Logf("%s: read %.0f rows, returned %.0f", name, read, returned)
					}
				}
				es, cursors, more, err := s.Events(ctx, f)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				for _, e := range es {
					got = append(got, e.Seq)
				}
				if !more {
					break
				}
				f.After = cursors[len(cursors)-1]
			}
			n := min(len(want), len(got))
			if len(got) < min(len(want), 100) || fmt.Sprint(got) != fmt.Sprint(want[:n]) {
				t.Errorf("%s (newest first %v): pages return %v, want %v", c.name, newest, head(got), head(want))
			}
		}
	}
}

// manyActions are more actions than EventsQuery walks one by one.
var manyActions = []string{"run:update", "run:stop", "run:delete", "run:update_many", "run:delete_many", "run:undelete_many",
	"artifact:read", "artifact:create", "artifact:delete", "project:read", "project:delete", "report:read", "user:read",
	"user:login", "user:logout", "user:create", "user:update"}

func head(s []int64) []int64 { return s[:min(len(s), 12)] }
