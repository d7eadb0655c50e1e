package server_test

import (
	"bytes"
	"cmp"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"

	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/metrics/metricstest"
	"github.com/auditgraph/auditgraph/internal/server"
)

// scrapeMetrics fetches /metrics as the instance admin.
func (e *restEnv) scrapeMetrics() []byte {
	e.t.Helper()
	resp, b := e.do("GET", "/metrics", "admin", nil)
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("GET /metrics as admin = %d, want 200: %s", resp.StatusCode, b)
	}
	return b
}

func (e *restEnv) graphQL(user, query string) int {
	e.t.Helper()
	resp, b := e.do("POST", "/graphql", user, strings.NewReader(`{"query":`+strconv.Quote(query)+`}`), "Content-Type", "application/json")
	if resp.StatusCode != http.StatusOK || bytes.Contains(b, []byte(`"errors"`)) {
		e.t.Fatalf("GraphQL %s = %d %s, want data", query, resp.StatusCode, b)
	}
	return resp.StatusCode
}

// TestMetricsCountWhatWasDone ingests, refuses and queries, and checks that
// each counter moved by exactly that.
func TestMetricsCountWhatWasDone(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	before := metricstest.Parse(t, e.scrapeMetrics())

	if code, body := e.ingest("alice", "", `{"action":"user:login","id":"a1"}
{"action":"user:login","actor_email":"alice@x.io"}
{"action":"run:stop"}`); code != http.StatusOK {
		t.Fatalf("first batch = %d %v, want 200", code, body)
	}
	if code, body := e.ingest("alice", "", `{"action":"user:login","id":"a1"}`); code != http.StatusOK || body["duplicates"] != 1.0 {
		t.Fatalf("repeated batch = %d %v, want 200 with one duplicate", code, body)
	}
	if code, _ := e.ingest("alice", "", `{"action":"user:login","timestamp":"yesterday"}`); code != http.StatusBadRequest {
		t.Fatalf("bad timestamp batch = %d, want 400", code)
	}
	if code, _ := e.ingest("alice", "", `{"action":"user:login","alice@evil.io":"1"}`); code != http.StatusBadRequest {
		t.Fatalf("undocumented key batch = %d, want 400", code)
	}
	if code, _ := e.ingest("bob", "", `{"action":"user:login"}`); code != http.StatusForbidden {
		t.Fatalf("member's batch = %d, want 403", code)
	}
	if code, _ := e.ingest("admin", "nosuchorg", `{"action":"user:login"}`); code != http.StatusNotFound {
		t.Fatalf("batch for an unknown org = %d, want 404", code)
	}
	e.graphQL("alice", "{ viewer { username } }")

	after := metricstest.Parse(t, e.scrapeMetrics())
	for _, c := range []struct {
		series []string
		want   float64
	}{
		{[]string{"auditgraph_audit_events_ingested_total", "action", "user:login"}, 3},
		{[]string{"auditgraph_audit_events_ingested_total", "action", "run:stop"}, 1},
		{[]string{"auditgraph_audit_events_ingested_total", "action", "team:create"}, 0},
		{[]string{"auditgraph_audit_events_duplicates_total"}, 1},
		{[]string{"auditgraph_audit_events_dropped_total"}, 0},
		{[]string{"auditgraph_audit_batches_rejected_total", "reason", "timestamp"}, 1},
		{[]string{"auditgraph_audit_batches_rejected_total", "reason", "line"}, 1},
		{[]string{"auditgraph_audit_batches_rejected_total", "reason", "forbidden"}, 1},
		{[]string{"auditgraph_audit_batches_rejected_total", "reason", "org"}, 1},
		{[]string{"auditgraph_audit_batches_rejected_total", "reason", "body"}, 0},
		{[]string{"auditgraph_graphql_operations_total", "operation", "viewer", "outcome", "ok"}, 1},
		{[]string{"auditgraph_graphql_operation_duration_seconds_count", "operation", "viewer"}, 1},
		{[]string{"auditgraph_http_requests_total", "route", "POST /api/v1/audit_events", "method", "POST", "code", "200"}, 2},
		{[]string{"auditgraph_http_requests_total", "route", "POST /api/v1/audit_events", "method", "POST", "code", "400"}, 2},
		{[]string{"auditgraph_http_requests_total", "route", "POST /api/v1/audit_events", "method", "POST", "code", "403"}, 1},
		{[]string{"auditgraph_http_requests_total", "route", "POST /api/v1/audit_events", "method", "POST", "code", "404"}, 1},
		{[]string{"auditgraph_http_request_duration_seconds_count", "route", "POST /api/v1/audit_events", "method", "POST"}, 6},
		{[]string{"auditgraph_http_requests_total", "route", "/graphql", "method", "POST", "code", "200"}, 1},
		// The scrape before; this one is counted once it is answered.
		{[]string{"auditgraph_http_requests_total", "route", "GET /metrics", "method", "GET", "code", "200"}, 1},
	} {
		t.Run(strings.Join(c.series, " "), func(t *testing.T) {
			if got := after.Get(c.series[0], c.series[1:]...) - before.Get(c.series[0], c.series[1:]...); got != c.want {
				t.Errorf("%q moved by %v, want %v", c.series, got, c.want)
			}
		})
	}
	if n := after.Get("auditgraph_db_pool_open_connections"); n < 1 {
		t.Errorf("auditgraph_db_pool_open_connections = %v, want the pool's connections", n)
	}
	if text := e.scrapeMetrics(); bytes.Contains(text, []byte("alice")) || bytes.Contains(text, []byte("evil.io")) {
		t.Errorf("exposition names a user or what a client sent:\n%s", text)
	}
}

func TestMetricsAccess(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	for _, c := range []struct {
		user string
		want int
	}{
		{"", http.StatusUnauthorized},
		{"alice", http.StatusForbidden}, // an org admin, not an instance admin
		{"admin", http.StatusOK},
	} {
		t.Run(cmp.Or(c.user, "anonymous"), func(t *testing.T) {
			if resp, b := e.do("GET", "/metrics", c.user, nil); resp.StatusCode != c.want {
				t.Errorf("GET /metrics as %q = %d, want %d: %s", c.user, resp.StatusCode, c.want, b)
			}
		})
	}

	// Served on a listener of its own, /metrics is not on the API's.
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	srv := httptest.NewServer(server.New(server.Config{Services: app.New(e.store), Identity: e.ids, Mode: deployment.SelfManaged, Log: log, MetricsElsewhere: true}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	if resp, b := e.do("GET", "/metrics", "admin", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics with MetricsElsewhere = %d, want 404: %s", resp.StatusCode, b)
	}
}

// TestMetricsPassPromtool runs `promtool check metrics` on a live server's
// exposition. CI installs promtool (.ci/run) and must run this; elsewhere
// it is skipped without promtool, and promlint, the same rules, still runs.
func TestMetricsPassPromtool(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	e.ingest("alice", "", `{"action":"user:login"}`)
	e.ingest("alice", "", `{"action":"user:login","timestamp":"yesterday"}`)
	e.graphQL("alice", "{ viewer { username } }")
	e.do("GET", "/healthz", "", nil)
	text := e.scrapeMetrics()

	problems, err := promlint.New(bytes.NewReader(text)).Lint()
	if err != nil {
		t.Fatalf("promlint: %v", err)
	}
	for _, p := range problems {
		t.Errorf("promlint: %s: %s", p.Metric, p.Text)
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatal("promtool not found, and CI requires this check: install the Debian package prometheus")
		}
		t.Skip("promtool not found (Debian package prometheus); CI runs this check")
	}
	file := filepath.Join(t.TempDir(), "metrics.txt")
	if err := os.WriteFile(file, text, 0o600); err != nil {
		t.Fatal(err)
	}
	in, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = in
	out, err := cmd.CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
}
