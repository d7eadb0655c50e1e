package fleet

import (
	"bufio"
	"compress/gzip"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jmoiron/sqlx"
	_ "gocloud.dev/blob/fileblob" // file:// buckets

	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/log/bucketsync"
	"github.com/auditgraph/auditgraph/internal/log/live"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
	"github.com/auditgraph/auditgraph/internal/platform/pgembed"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/storage"
)

const adminKey = "0123456789abcdef0123456789abcdef01234567"

// env is the fleet: a primary, its streaming standby, and two servers, A
// (events are reported through it) and B (read through it), each with its
// own pools on both and its own live hub.
type env struct {
	t                *testing.T
	primary, standby *pgembed.Cluster
	// sb is a superuser connection to the standby; pdb to the primary.
	sb, pdb *sqlx.DB
	a, b    *node
	acme    int64
	// day is yesterday (UTC), the window the events are reported in: a
	// window that has ended, which reads may take from the standby.
	day time.Time
	n   atomic.Int64 // events reported so far
}

type node struct {
	url   string
	store *storage.Store
	hub   *live.Hub
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	// A short path (the socket's must fit in 107 bytes) that the postgres
	// user can reach when the tests run as root.
	dir, err := os.MkdirTemp("", "ag-fleet-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	settings := map[string]string{"fsync": "off", "synchronous_commit": "off", "max_connections": "200"}
	primary, err := pgembed.Start(ctx, pgembed.Config{DataDir: dir + "/p", Settings: settings})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { primary.Stop(context.Background()) })
	e := &env{t: t, primary: primary, day: time.Now().UTC().Truncate(24*time.Hour).AddDate(0, 0, -1)}
	owner, err := storage.Open(ctx, primary.URL("auditgraph"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := owner.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := owner.EnsurePartitions(ctx, e.day.AddDate(0, -1, 0), e.day.AddDate(0, 3, 0)); err != nil {
		t.Fatal(err)
	}
	// The servers connect as serve does in production: a role that owns
	// nothing and may not read the standby's replication details.
	if err := owner.SetUpAppRole(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := owner.DB().ExecContext(ctx, `CREATE ROLE fleet_app LOGIN IN ROLE `+storage.AppRole); err != nil {
		t.Fatal(err)
	}
	owner.Close()

	standby, err := pgembed.StartStandby(ctx, primary, pgembed.Config{DataDir: dir + "/s",
		Settings: map[string]string{"fsync": "off", "hot_standby_feedback": "on", "max_connections": "200"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standby.Stop(context.Background()) })
	e.standby = standby
	if e.sb, err = sqlx.Open("postgres", standby.URL("auditgraph")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.sb.Close() })
	if e.pdb, err = sqlx.Open("postgres", primary.URL("auditgraph")); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.pdb.Close() })

	e.a, e.b = e.node(), e.node()
	ids := identity.New(e.a.store, deployment.SelfManaged, slog.New(slog.DiscardHandler))
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: adminKey, OrgName: "default"}); err != nil {
		t.Fatal(err)
	}
	admin, err := e.a.store.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	org, err := ids.CreateOrganization(ctx, &auth.Principal{User: admin}, "acme", "enterprise")
	if err != nil {
		t.Fatal(err)
	}
	e.acme = org.ID
	return e
}

// node starts one server: its own pool on the primary, on the standby
// (--read-database-url, checked every 100ms) and its own live hub.
func (e *env) node() *node {
	t := e.t
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { stop(); wg.Wait() })
	log := slog.New(slog.DiscardHandler)
	url := e.primary.URLAs("fleet_app", "auditgraph")
	st, err := storage.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.AttachStandby(ctx, storage.StandbyConfig{URL: e.standby.URLAs("fleet_app", "auditgraph"), CheckEvery: 100 * time.Millisecond}); err != nil {
		t.Fatal(err)
	}
	hub := live.New(live.Config{URL: url, Store: st, Log: log})
	wg.Add(2)
	go func() { defer wg.Done(); st.WatchStandby(ctx) }()
	go func() { defer wg.Done(); hub.Run(ctx) }()
	select {
	case <-hub.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("hub not listening after 10s")
	}
	m := metrics.New(st.DB().DB)
	m.WatchReplica(func() (time.Duration, bool) { s := st.Standby(); return s.Lag, s.Used })
	ids := identity.New(st, deployment.SelfManaged, log)
	srv := httptest.NewServer(server.New(server.Config{Services: app.New(st), Identity: ids,
		Mode: deployment.SelfManaged, Log: log, Live: hub, Metrics: m}))
	t.Cleanup(srv.Close)
	return &node{url: srv.URL, store: st, hub: hub}
}

func authz() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte("admin:"+adminKey))
}

// do sends a request with the admin's key and returns the status and body;
// a transport error is returned as is.
func do(method, u, contentType, body string) (int, []byte, error) {
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", authz())
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := (&http.Client{Timeout: 20 * time.Second}).Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// report reports n events to acme through A, named ev-<k> in entity_name
// (k counting from 1 over the whole test), stamped in e.day.
func (e *env) report(n int) error {
	var sb strings.Builder
	for range n {
		k := e.n.Add(1)
		ts := e.day.Add(time.Duration(k) * time.Second).Format(time.RFC3339)
		fmt.Fprintf(&sb, `{"action":"user:login","actor_email":"u@x.io","entity_name":"ev-%d","timestamp":"%s"}`+"\n", k, ts)
	}
	code, body, err := do(http.MethodPost, e.a.url+"/api/v1/audit_events?org=acme", "application/x-ndjson", sb.String())
	if err != nil {
		return err
	}
	if code != http.StatusOK {
		return fmt.Errorf("POST /api/v1/audit_events on A = %d %s", code, body)
	}
	return nil
}

func (e *env) mustReport(n int) {
	e.t.Helper()
	if err := e.report(n); err != nil {
		e.t.Fatal(err)
	}
}

// window is the REST query of e.day's events.
func (e *env) window() string {
	return "org=acme&startDate=" + e.day.Format(time.DateOnly) + "&endDate=" + e.day.AddDate(0, 0, 1).Format(time.DateOnly)
}

// walk reads e.day's events through B's paginated REST API, limit per
// page, calling between after each page, and returns their entity names in
// order.
func (e *env) walk(limit int, between func(page int)) ([]string, error) {
	var names []string
	cursor := ""
	for page := 1; ; page++ {
		u := e.b.url + "/admin/audit_logs?" + e.window() + fmt.Sprintf("&limit=%d", limit)
		if cursor != "" {
			u += "&cursor=" + url.QueryEscape(cursor)
		}
		code, body, err := do(http.MethodGet, u, "", "")
		if err != nil {
			return names, err
		}
		if code != http.StatusOK {
			return names, fmt.Errorf("page %d: GET /admin/audit_logs on B = %d %s", page, code, body)
		}
		var p struct {
			AuditLogs []struct {
				EntityName string `json:"entity_name"`
			} `json:"audit_logs"`
			NextCursor *string `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &p); err != nil {
			return names, err
		}
		for _, ev := range p.AuditLogs {
			names = append(names, ev.EntityName)
		}
		if between != nil {
			between(page)
		}
		if p.NextCursor == nil {
			return names, nil
		}
		cursor = *p.NextCursor
	}
}

// graphqlCount counts e.day's events as B's GraphQL auditEvents reads them
// (at most 100).
func (e *env) graphqlCount() (int, error) {
	q := fmt.Sprintf(`{ organization(name: "acme") { auditEvents(first: 100, filter: {from: %q, to: %q}) { nodes { sequence } } } }`,
		e.day.Format(time.RFC3339), e.day.AddDate(0, 0, 1).Format(time.RFC3339))
	body, _ := json.Marshal(map[string]string{"query": q})
	code, out, err := do(http.MethodPost, e.b.url+"/graphql", "application/json", string(body))
	if err != nil {
		return 0, err
	}
	var res struct {
		Data struct {
			Organization struct {
				AuditEvents struct {
					Nodes []struct{ Sequence int } `json:"nodes"`
				} `json:"auditEvents"`
			} `json:"organization"`
		} `json:"data"`
		Errors []json.RawMessage `json:"errors"`
	}
	if err := json.Unmarshal(out, &res); err != nil || code != http.StatusOK || len(res.Errors) > 0 {
		return 0, fmt.Errorf("POST /graphql on B = %d %s (%v)", code, out, err)
	}
	return len(res.Data.Organization.AuditEvents.Nodes), nil
}

// standbySeq is acme's last sequence number as the standby has replayed it.
func (e *env) standbySeq() int64 {
	e.t.Helper()
	var seq int64
	err := e.sb.Get(&seq, `SELECT last_seq FROM organizations WHERE id = $1`, e.acme)
	if err != nil && !errors.Is(err, sql.ErrNoRows) { // not replayed yet
		e.t.Fatal(err)
	}
	return seq
}

// caughtUp waits until the standby has replayed every event reported.
func (e *env) caughtUp() {
	e.t.Helper()
	var want int64
	if err := e.pdb.Get(&want, `SELECT last_seq FROM organizations WHERE id = $1`, e.acme); err != nil {
		e.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for e.standbySeq() < want {
		if time.Now().After(deadline) {
			e.t.Fatalf("the standby has replayed up to %d after 20s, want %d", e.standbySeq(), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) pause() {
	e.t.Helper()
	if _, err := e.sb.Exec(`SELECT pg_wal_replay_pause()`); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) resume() {
	e.t.Helper()
	if _, err := e.sb.Exec(`SELECT pg_wal_replay_resume()`); err != nil {
		e.t.Fatal(err)
	}
}

// once checks that names holds each of ev-1..ev-want exactly once, and
// nothing else but later events (reported while the walk ran).
func once(t *testing.T, names []string, want int64) {
	t.Helper()
	seen := map[string]int{}
	for _, n := range names {
		seen[n]++
		if seen[n] == 2 {
			t.Errorf("%s returned twice", n)
		}
	}
	for k := int64(1); k <= want; k++ {
		if seen[fmt.Sprintf("ev-%d", k)] == 0 {
			t.Errorf("ev-%d missing from the walk (%d events returned)", k, len(names))
		}
	}
}

func TestFleet(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a primary, a standby and two servers")
	}
	e := newEnv(t)

	t.Run("reads of an ended window go to the standby; a REST walk never misses what the primary has", func(t *testing.T) {
		e.t = t // the helpers fail the running subtest
		e.mustReport(50)
		e.caughtUp()
		// Caught up and streaming, the standby measures no lag (as the
		// least-privileged role, which sees little of the WAL receiver).
		deadline := time.Now().Add(5 * time.Second)
		for st := e.b.store.Standby(); !st.Used || st.Lag != 0; st = e.b.store.Standby() {
			if time.Now().After(deadline) {
				t.Fatalf("B's standby after 5s caught up: %+v, want used with lag 0", st)
			}
			time.Sleep(20 * time.Millisecond)
		}
		e.pause()
		defer e.resume()
		e.mustReport(10) // stored on the primary, not replayed by the standby
		if got := e.standbySeq(); got > 50+2 {
			t.Fatalf("standby replayed to %d while paused", got)
		}
		// GraphQL's auditEvents over yesterday reads the standby: it does not
		// see the 10 events yet.
		if n, err := e.graphqlCount(); err != nil || n != 50 {
			t.Fatalf("auditEvents on B while the standby is paused: %d events (%v), want the standby's 50", n, err)
		}
		// The REST walk pins the primary's last sequence number on page one:
		// its pages wait for the standby briefly, then read the primary.
		names, err := e.walk(20, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != 60 {
			t.Errorf("walk returned %d events, want 60", len(names))
		}
		once(t, names, 60)
		// So does the NDJSON export of the same window.
		code, body, err := do(http.MethodGet, e.b.url+"/admin/audit_logs?org=acme&startDate="+e.day.Format(time.DateOnly), "", "")
		if err != nil || code != http.StatusOK {
			t.Fatalf("NDJSON export on B = %d %s (%v)", code, body, err)
		}
		if n := lines(body); n != 60 {
			t.Errorf("NDJSON export returned %d events, want 60", n)
		}
		e.resume()
		e.caughtUp()
		if n, err := e.graphqlCount(); err != nil || n != 60 {
			t.Fatalf("auditEvents on B once the standby replayed: %d events (%v), want 60", n, err)
		}
	})

	t.Run("a paginated walk during ingest with the standby paused returns every event once", func(t *testing.T) {
		e.t = t // the helpers fail the running subtest
		stop := make(chan struct{})
		ingestErr := make(chan error, 1)
		go func() {
			defer close(ingestErr)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := e.report(5); err != nil {
					ingestErr <- err
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}()
		for e.n.Load() < 300 { // a walk of some 30 pages
			time.Sleep(10 * time.Millisecond)
		}
		e.pause()
		paused := true
		before := e.n.Load() // reported (and acknowledged or under way) before the walk
		names, err := e.walk(10, func(page int) {
			if page == 10 && paused {
				e.resume() // the rest of the walk finds the standby catching up
				paused = false
			}
		})
		close(stop)
		if err2 := <-ingestErr; err2 != nil {
			t.Fatal(err2)
		}
		if paused {
			e.resume()
		}
		if err != nil {
			t.Fatal(err)
		}
		// Events still being stored when the walk began may or may not be in
		// it; every event acknowledged before is, exactly once.
		once(t, names, before-5)
		t.Logf("walk returned %d events; %d reported before it began, %d in all", len(names), before, e.n.Load())
		e.caughtUp()
	})

	t.Run("the live subscription fans out across both servers", func(t *testing.T) {
		e.t = t // the helpers fail the running subtest
		subA, subB := subscribe(t, e.a.url), subscribe(t, e.b.url)
		for _, h := range []*live.Hub{e.a.hub, e.b.hub} {
			deadline := time.Now().Add(10 * time.Second)
			for h.Subscribers() != 1 {
				if time.Now().After(deadline) {
					t.Fatal("subscription not registered after 10s")
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		first := e.n.Load() + 1
		e.mustReport(3)
		for name, sub := range map[string]*wsSub{"A": subA, "B": subB} {
			for k := first; k < first+3; k++ {
				if got := sub.next(t); got != fmt.Sprintf("ev-%d", k) {
					t.Errorf("subscriber on %s got %s, want ev-%d", name, got, k)
				}
			}
		}
	})

	t.Run("the bucket sync of both servers exports each event once", func(t *testing.T) {
		e.t = t // the helpers fail the running subtest
		dir := t.TempDir()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		for _, n := range []*node{e.a, e.b} {
			bucket, err := bucketsync.Open(ctx, "file://"+dir)
			if err != nil {
				t.Fatal(err)
			}
			defer bucket.Close()
			syncer := bucketsync.New(bucketsync.Config{Store: n.store, Bucket: bucket, Interval: 20 * time.Millisecond,
				MaxObjectEvents: 40, Log: slog.New(slog.DiscardHandler)})
			wg.Add(1)
			go func() { defer wg.Done(); syncer.Run(ctx) }()
		}
		for range 20 {
			e.mustReport(10)
			time.Sleep(10 * time.Millisecond)
		}
		var last int64
		if err := e.pdb.Get(&last, `SELECT last_seq FROM organizations WHERE id = $1`, e.acme); err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(20 * time.Second)
		for {
			var synced int64
			err := e.pdb.Get(&synced, `SELECT coalesce((SELECT synced_seq FROM bucket_sync_orgs WHERE org_id = $1), 0)`, e.acme)
			if err != nil {
				t.Fatal(err)
			}
			if synced == last {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("synced up to %d after 20s, want %d", synced, last)
			}
			time.Sleep(20 * time.Millisecond)
		}
		cancel()
		wg.Wait()
		files, err := filepath.Glob(filepath.Join(dir, "wandb-audit-logs", "acme", "*", "*", "*", "*.ndjson.gz"))
		if err != nil {
			t.Fatal(err)
		}
		seen := map[string]int{}
		lines := 0
		for _, f := range files {
			fh, err := os.Open(f)
			if err != nil {
				t.Fatal(err)
			}
			zr, err := gzip.NewReader(fh)
			if err != nil {
				t.Fatal(err)
			}
			sc := bufio.NewScanner(zr)
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var ev struct {
					EntityName string `json:"entity_name"`
				}
				if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
					t.Fatal(err)
				}
				lines++
				if ev.EntityName != "" {
					seen[ev.EntityName]++
				}
			}
			fh.Close()
		}
		if int64(lines) != last {
			t.Errorf("the bucket holds %d events in %d objects, want %d", lines, len(files), last)
		}
		for k := int64(1); k <= e.n.Load(); k++ {
			if n := seen[fmt.Sprintf("ev-%d", k)]; n != 1 {
				t.Errorf("ev-%d exported %d times, want once", k, n)
			}
		}
	})

	t.Run("stopping the standby moves reads to the primary with no failed request", func(t *testing.T) {
		e.t = t // the helpers fail the running subtest
		e.caughtUp()
		total := e.n.Load()
		ctx, cancel := context.WithCancel(context.Background())
		var wg sync.WaitGroup
		var requests, failures atomic.Int64
		var failMu sync.Mutex
		var firstFail error
		fail := func(err error) {
			failures.Add(1)
			failMu.Lock()
			if firstFail == nil {
				firstFail = err
			}
			failMu.Unlock()
		}
		reads := []func() error{
			func() error {
				names, err := e.walk(100, nil)
				if err == nil && int64(len(names)) != total {
					err = fmt.Errorf("walk returned %d events, want %d", len(names), total)
				}
				return err
			},
			func() error {
				n, err := e.graphqlCount()
				if err == nil && n != 100 {
					err = fmt.Errorf("auditEvents returned %d events, want 100", n)
				}
				return err
			},
			func() error {
				code, body, err := do(http.MethodGet, e.b.url+"/admin/users.csv?org=acme", "", "")
				if err == nil && code != http.StatusOK {
					err = fmt.Errorf("users.csv = %d %s", code, body)
				}
				return err
			},
		}
		for _, read := range reads {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for ctx.Err() == nil {
					requests.Add(1)
					if err := read(); err != nil {
						fail(err)
					}
				}
			}()
		}
		time.Sleep(300 * time.Millisecond)
		if err := e.standby.Stop(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Reads go on, from the primary.
		time.Sleep(1500 * time.Millisecond)
		cancel()
		wg.Wait()
		if failures.Load() > 0 {
			t.Errorf("%d of %d requests failed while the standby stopped; the first: %v", failures.Load(), requests.Load(), firstFail)
		}
		t.Logf("%d requests while the standby stopped", requests.Load())

		code, body, err := do(http.MethodGet, e.b.url+"/readyz", "", "")
		if err != nil || code != http.StatusOK {
			t.Fatalf("/readyz on B = %d %s (%v), want 200: a bypassed standby does not make the server unready", code, body, err)
		}
		var ready struct {
			Status      string `json:"status"`
			ReadReplica struct {
				Status string `json:"status"`
				Reason string `json:"reason"`
			} `json:"read_replica"`
		}
		if err := json.Unmarshal(body, &ready); err != nil || ready.ReadReplica.Status != "bypassed" || ready.ReadReplica.Reason != "unreachable" {
			t.Errorf("/readyz on B = %s, want read_replica bypassed, unreachable", body)
		}
		code, body, err = do(http.MethodGet, e.b.url+"/metrics", "", "")
		if err != nil || code != http.StatusOK || !strings.Contains(string(body), "\nauditgraph_replica_lag_seconds ") ||
			!strings.Contains(string(body), "\nauditgraph_replica_used 0\n") {
			t.Errorf("/metrics on B = %d, want auditgraph_replica_lag_seconds and auditgraph_replica_used 0 (%v)", code, err)
		}
	})
}

func lines(b []byte) int {
	n := 0
	s := bufio.NewScanner(strings.NewReader(string(b)))
	s.Buffer(nil, 1<<20)
	for s.Scan() {
		if strings.TrimSpace(s.Text()) != "" {
			n++
		}
	}
	return n
}

// wsSub is a live subscription to acme's events over graphql-transport-ws.
type wsSub struct {
	conn *websocket.Conn
}

func subscribe(t *testing.T, base string) *wsSub {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{
		Subprotocols: []string{"graphql-transport-ws"},
	})
	if err != nil {
		t.Fatal(err)
	}
	conn.SetReadLimit(1 << 20)
	t.Cleanup(func() { conn.CloseNow() })
	s := &wsSub{conn: conn}
	s.send(t, map[string]any{"type": "connection_init", "payload": map[string]string{"Authorization": authz()}})
	if m := s.read(t); m.Type != "connection_ack" {
		t.Fatalf("got %s %s, want connection_ack", m.Type, m.Payload)
	}
	s.send(t, map[string]any{"type": "subscribe", "id": "1", "payload": map[string]string{
		"query": `subscription { auditEvents(organization: "acme") { entityName } }`}})
	return s
}

type wsMsg struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

func (s *wsSub) send(t *testing.T, m any) {
	t.Helper()
	b, _ := json.Marshal(m)
	if err := s.conn.Write(context.Background(), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

func (s *wsSub) read(t *testing.T) wsMsg {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := s.conn.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var m wsMsg
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatal(err)
		}
		if m.Type == "ping" {
			s.send(t, map[string]string{"type": "pong"})
			continue
		}
		return m
	}
}

// next returns the entity name of the next event delivered.
func (s *wsSub) next(t *testing.T) string {
	t.Helper()
	m := s.read(t)
	var p struct {
		Data struct {
			AuditEvents struct {
				EntityName string `json:"entityName"`
			} `json:"auditEvents"`
		} `json:"data"`
	}
	if m.Type != "next" || json.Unmarshal(m.Payload, &p) != nil {
		t.Fatalf("got %s %s, want next", m.Type, m.Payload)
	}
	return p.Data.AuditEvents.EntityName
}
