package logpull_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "gocloud.dev/blob/fileblob" // file:// buckets; main registers the others

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/log/bucketsync"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/log/logpull"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

const adminKey = "0123456789abcdef0123456789abcdef01234567"

// env is a real auditgraph server on loopback HTTP over a fresh database,
// with the instance organization "default" and its admin "admin". Requests
// to /admin/audit_logs go through intercept when it is set.
type env struct {
	t         *testing.T
	store     *storage.Store
	org       int64
	url       string
	now       time.Time
	since     time.Time
	mu        sync.Mutex
	intercept func(n int, w http.ResponseWriter, r *http.Request) bool
	requests  atomic.Int64
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := context.Background()
	st := storagetest.New(t)
	log := slog.New(slog.DiscardHandler)
	ids := identity.New(st, deployment.SelfManaged, log)
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: adminKey, OrgName: "default"}); err != nil {
		t.Fatal(err)
	}
	org, err := st.OrganizationByName(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, org: org.ID, now: time.Now().UTC().Truncate(time.Second)}
	e.since = e.now.Truncate(24*time.Hour).AddDate(0, 0, -3)
	h := server.New(server.Config{Services: app.New(st), Identity: ids, Mode: deployment.SelfManaged, Log: log})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin/audit_logs" {
			n := int(e.requests.Add(1))
			e.mu.Lock()
			f := e.intercept
			e.mu.Unlock()
			if f != nil && f(n, w, r) {
				return
			}
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func (e *env) setIntercept(f func(n int, w http.ResponseWriter, r *http.Request) bool) {
	e.mu.Lock()
	e.intercept = f
	e.requests.Store(0)
	e.mu.Unlock()
}

// addEvents stores n events spread evenly over [from, to), each with its
// own actor email so a duplicate line would show.
func (e *env) addEvents(n int, from, to time.Time, tag string) {
	e.t.Helper()
	es := make([]audit.Event, n)
	step := to.Sub(from) / time.Duration(n)
	for i := range es {
		es[i] = audit.Event{Action: "user:login", ActorEmail: fmt.Sprintf("%s%d@x.io", tag, i), ResponseCode: 200,
			Timestamp: from.Add(time.Duration(i) * step)}
	}
	if err := e.store.InTx(context.Background(), func(tx *storage.Tx) error {
		return ledger.Append(context.Background(), tx, e.org, es)
	}); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) config(dir string, now time.Time) logpull.Config {
	return logpull.Config{URL: e.url, Username: "admin", APIKey: adminKey, Org: "default", Out: logpull.Dir(dir),
		StatePath: filepath.Join(dir, "state.json"), Since: e.since, Settle: time.Minute, PageSize: 7,
		Now: func() time.Time { return now }, RetryWait: time.Millisecond}
}

// want returns the daily files a pull up to end must have written: the REST
// API's lines of each day's events since e.since, in its order.
func (e *env) want(end time.Time) map[string]string {
	e.t.Helper()
	files := map[string]string{}
	for d := e.since; d.Before(end); d = d.AddDate(0, 0, 1) {
		var b strings.Builder
		stop := d.AddDate(0, 0, 1)
		if stop.After(end) {
			stop = end
		}
		if err := e.store.StreamEvents(context.Background(), e.org, d, stop, false, func(line []byte) error {
			b.Write(line)
			b.WriteByte('\n')
			return nil
		}); err != nil {
			e.t.Fatal(err)
		}
		if b.Len() > 0 {
			files[d.Format(time.DateOnly)+".ndjson"] = b.String()
		}
	}
	return files
}

func readFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	got := map[string]string{}
	names, _ := filepath.Glob(filepath.Join(dir, "*.ndjson"))
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		got[filepath.Base(n)] = string(b)
	}
	return got
}

func sameFiles(t *testing.T, got, want map[string]string) {
	t.Helper()
	var gk, wk []string
	for k := range got {
		gk = append(gk, k)
	}
	for k := range want {
		wk = append(wk, k)
	}
	slices.Sort(gk)
	slices.Sort(wk)
	if !slices.Equal(gk, wk) {
		t.Fatalf("files %v, want %v", gk, wk)
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("%s holds %d lines:\n%s\nwant %d lines:\n%s", k, strings.Count(got[k], "\n"), got[k], strings.Count(w, "\n"), w)
		}
	}
}

func TestPullThenPullWhatIsNew(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.addEvents(40, e.since.Add(5*time.Hour), e.now.Add(-20*time.Minute), "a")
	dir := t.TempDir()
	first := e.now.Add(-10 * time.Minute)
	res, err := logpull.Pull(ctx, e.config(dir, first))
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 40 || !res.Position.Equal(first.Add(-time.Minute)) {
		t.Errorf("first pull = %+v, want 40 events up to %v", res, first.Add(-time.Minute))
	}
	sameFiles(t, readFiles(t, dir), e.want(res.Position))
	// New events, some of them on the same day as the last pull's end.
	e.addEvents(5, e.now.Add(-9*time.Minute), e.now.Add(-2*time.Minute), "b")
	res, err = logpull.Pull(ctx, e.config(dir, e.now))
	if err != nil {
		t.Fatal(err)
	}
	if res.Events != 5 {
		t.Errorf("second pull fetched %d events, want the 5 new ones", res.Events)
	}
	sameFiles(t, readFiles(t, dir), e.want(res.Position))
	// Nothing new: nothing fetched, nothing changed.
	res, err = logpull.Pull(ctx, e.config(dir, e.now))
	if err != nil || res.Events != 0 || res.Pages != 0 {
		t.Errorf("third pull = %+v, %v; want nothing to do", res, err)
	}
	fi, err := os.Stat(filepath.Join(dir, e.now.Add(-2*time.Minute).Format(time.DateOnly)+".ndjson"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("day file mode %v, %v; want 0600: audit logs hold personal data", fi.Mode(), err)
	}
}

func TestPullResumesAfterServerFails(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.addEvents(60, e.since.Add(time.Hour), e.now.Add(-5*time.Minute), "a")
	dir := t.TempDir()
	// The server fails from the 6th request on, in the middle of a day.
	e.setIntercept(func(n int, w http.ResponseWriter, r *http.Request) bool {
		if n >= 6 {
			http.Error(w, `{"error":"database is down"}`, http.StatusServiceUnavailable)
			return true
		}
		return false
	})
	cfg := e.config(dir, e.now)
	cfg.Retries = 1
	res, err := logpull.Pull(ctx, cfg)
	if err == nil || !strings.Contains(err.Error(), "database is down") {
		t.Fatalf("Pull against a failing server = %v, want the server's error", err)
	}
	if res.Events == 0 || res.Events == 60 {
		t.Fatalf("the failed pull fetched %d events before failing; the test needs it to stop midway", res.Events)
	}
	// As if the process had died after writing a page but before saving
	// the state: a line, and half of one, that the state does not cover.
	st := readState(t, cfg.StatePath)
	if st.Range == nil || st.Range.Cursor == "" {
		t.Fatalf("state after the failure: %+v, want a range with a cursor", st)
	}
	f, err := os.OpenFile(filepath.Join(dir, st.Range.File), os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"action":"user:login","actor_email":"a0@x.io"}` + "\n" + `{"action":"user:lo`)
	f.Close()

	e.setIntercept(nil)
	res2, err := logpull.Pull(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.Events+res2.Events != 60 {
		t.Errorf("the two runs fetched %d + %d events, want 60 in all", res.Events, res2.Events)
	}
	sameFiles(t, readFiles(t, dir), e.want(res2.Position))
}

func TestPullResumesAfterKill(t *testing.T) {
	e := newEnv(t)
	e.addEvents(50, e.since.Add(time.Hour), e.now.Add(-5*time.Minute), "k")
	dir := t.TempDir()
	for kill := 2; ; kill += 3 {
		ctx, cancel := context.WithCancel(context.Background())
		e.setIntercept(func(n int, w http.ResponseWriter, r *http.Request) bool {
			if n == kill {
				cancel()
				<-r.Context().Done()
				// Hang up without answering: a handler that returned
				// would send an empty 200, which Go's client can still
				// hand back after the cancel.
				panic(http.ErrAbortHandler)
			}
			return false
		})
		_, err := logpull.Pull(ctx, e.config(dir, e.now))
		cancel()
		if err == nil {
			break
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("killed pull = %v, want context.Canceled", err)
		}
	}
	sameFiles(t, readFiles(t, dir), e.want(e.now.Add(-time.Minute)))
}

func TestPullRefusesAnotherPullsState(t *testing.T) {
	e := newEnv(t)
	dir := t.TempDir()
	if _, err := logpull.Pull(context.Background(), e.config(dir, e.now)); err != nil {
		t.Fatal(err)
	}
	cfg := e.config(dir, e.now)
	cfg.Anonymize = true
	if _, err := logpull.Pull(context.Background(), cfg); !errors.Is(err, logpull.ErrStateMismatch) {
		t.Errorf("Pull with --anonymize on a plain pull's state = %v, want ErrStateMismatch", err)
	}
}

func TestPullBadKeyIsNotShown(t *testing.T) {
	e := newEnv(t)
	cfg := e.config(t.TempDir(), e.now)
	cfg.APIKey = "ffffffffffffffffffffffffffffffffffffffff"
	_, err := logpull.Pull(context.Background(), cfg)
	if err == nil || !strings.Contains(err.Error(), "401") || strings.Contains(err.Error(), cfg.APIKey) {
		t.Errorf("Pull with a bad key = %v, want a 401 error without the key", err)
	}
}

func TestPullToBucket(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	e.addEvents(20, e.since.Add(time.Hour), e.now.Add(-5*time.Minute), "b")
	bdir := t.TempDir()
	b, err := bucketsync.Open(ctx, "file://"+bdir)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := e.config(t.TempDir(), e.now)
	cfg.Out = logpull.Bucket{B: b}
	if _, err := logpull.Pull(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	want := e.want(e.now.Add(-time.Minute))
	got := map[string]string{}
	for day := range want {
		d := strings.TrimSuffix(day, ".ndjson")
		names, _ := filepath.Glob(filepath.Join(bdir, d, "*.ndjson"))
		var all strings.Builder
		slices.Sort(names)
		for _, n := range names {
			raw, _ := os.ReadFile(n)
			all.Write(raw)
		}
		got[day] = all.String()
	}
	sameFiles(t, got, want)
}

func readState(t *testing.T, path string) logpull.State {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var st logpull.State
	if err := json.Unmarshal(raw, &st); err != nil {
		t.Fatal(err)
	}
	return st
}
