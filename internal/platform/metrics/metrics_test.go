package metrics_test

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
	"github.com/auditgraph/auditgraph/internal/platform/metrics/metricstest"
)

// noDatabase is a pool that never connects: the metrics only read its
// figures.
type noDatabase struct{}

func (noDatabase) Connect(context.Context) (driver.Conn, error) {
	return nil, errors.New("no database in this test")
}
func (noDatabase) Driver() driver.Driver { return nil }

func newMetrics(t *testing.T) (*metrics.Metrics, *sql.DB) {
	t.Helper()
	db := sql.OpenDB(noDatabase{})
	t.Cleanup(func() { db.Close() })
	return metrics.New(db), db
}

// scrape returns what m's handler exposes.
func scrape(t *testing.T, m *metrics.Metrics) []byte {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d, want 200: %s", rec.Code, rec.Body)
	}
	return rec.Body.Bytes()
}

// testMux has one route with a wildcard, a catch-all, and a WebSocket-like
// route that switches protocols.
func testMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /users/{name}", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("POST /teams/{team}/members", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
	})
	mux.HandleFunc("GET /live", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusSwitchingProtocols)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no route", http.StatusNotFound)
	})
	return mux
}

func serve(h http.Handler, method, target string) {
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(method, target, nil))
}

func TestInstrumentLabelsByRoutePattern(t *testing.T) {
	m, _ := newMetrics(t)
	h := m.Instrument(testMux())
	serve(h, "GET", "/users/alice")
	serve(h, "GET", "/users/bob")
	serve(h, "POST", "/teams/ml/members")
	serve(h, "GET", "/nothing/here")
	serve(h, "DELETE", "/users/alice") // no pattern for DELETE: the catch-all answers
	serve(h, "GET", "/live")

	s := metricstest.Parse(t, scrape(t, m))
	for _, c := range []struct {
		route, method, code string
		want                float64
	}{
		{"GET /users/{name}", "GET", "200", 2},
		{"POST /teams/{team}/members", "POST", "201", 1},
		{"unmatched", "GET", "404", 1},
		{"unmatched", "DELETE", "404", 1},
		{"GET /live", "GET", "101", 1},
	} {
		t.Run(c.route+" "+c.method+" "+c.code, func(t *testing.T) {
			if got := s.Get("auditgraph_http_requests_total", "route", c.route, "method", c.method, "code", c.code); got != c.want {
				t.Errorf("requests{route=%q,method=%q,code=%q} = %v, want %v; series: %q", c.route, c.method, c.code, got, c.want,
					s.Series("auditgraph_http_requests_total"))
			}
		})
	}
	if got := s.Get("auditgraph_http_request_duration_seconds_count", "route", "GET /users/{name}", "method", "GET"); got != 2 {
		t.Errorf("duration count for GET /users/{name} = %v, want 2", got)
	}
	if s.Has("auditgraph_http_request_duration_seconds_count", "route", "GET /live", "method", "GET") {
		t.Error("a WebSocket upgrade was timed, want it left out of the latency histogram")
	}
	if n := len(s.Series("auditgraph_http_requests_total")); n != 5 {
		t.Errorf("request series = %d, want 5: %q", n, s.Series("auditgraph_http_requests_total"))
	}
}

func TestInstrumentCountsAbortedRequests(t *testing.T) {
	m, _ := newMetrics(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /stream", func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("partial"))
		panic(http.ErrAbortHandler)
	})
	func() {
		defer func() { recover() }()
		serve(m.Instrument(mux), "GET", "/stream")
	}()
	s := metricstest.Parse(t, scrape(t, m))
	if got := s.Get("auditgraph_http_requests_total", "route", "GET /stream", "method", "GET", "code", "200"); got != 1 {
		t.Errorf("aborted request count = %v, want 1", got)
	}
}

// testSchema stands in for auditgraph's: its top-level fields are what the
// operation label is made of.
var testSchema = gqlparser.MustLoadSchema(&ast.Source{Input: `
	type Query {
		viewer: String!
		organization(name: String!): String!
		user(username: String!): String!
		broken: String!
	}
	type Mutation { createUser(email: String!): String! }
	type Subscription { auditEvents(organization: String!): String! }
`})

// newGraphQL serves testSchema over POST with m's extension. Every field
// resolves, except that selecting "broken" fails the operation.
func newGraphQL(m *metrics.Metrics) *handler.Server {
	srv := handler.New(&graphql.ExecutableSchemaMock{
		SchemaFunc: func() *ast.Schema { return testSchema },
		ComplexityFunc: func(context.Context, string, string, int, map[string]any) (int, bool) {
			return 1, true
		},
		ExecFunc: func(ctx context.Context) graphql.ResponseHandler {
			oc := graphql.GetOperationContext(ctx)
			for _, f := range graphql.CollectFields(oc, oc.Operation.SelectionSet, nil) {
				if f.Name == "broken" {
					return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{gqlerror.Errorf("broken")}})
				}
			}
			return graphql.OneShot(&graphql.Response{Data: []byte(`{}`)})
		},
	})
	srv.AddTransport(transport.POST{})
	srv.Use(m.GraphQL())
	return srv
}

func postGraphQL(t *testing.T, h http.Handler, body string) {
	t.Helper()
	req := httptest.NewRequest("POST", "/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(httptest.NewRecorder(), req)
}

func TestGraphQLCountsByTopLevelFields(t *testing.T) {
	m, _ := newMetrics(t)
	gql := newGraphQL(m)
	for _, body := range []string{
		`{"query":"{ viewer }"}`,
		`{"query":"query Mine { viewer }","operationName":"Mine"}`,
		`{"query":"{ me: viewer again: viewer }"}`,
		`{"query":"{ ...F } fragment F on Query { viewer }"}`,
		`{"query":"{ viewer organization(name: \"acme\") }"}`,
		`{"query":"{ organization(name: \"acme\") viewer }"}`,
		`{"query":"{ broken }"}`,
		`{"query":"mutation { createUser(email: \"bob@x.io\") }"}`,
		`{"query":"{ viewer organization(name: \"a\") user(username: \"b\") __typename }"}`,
		`{"query":"{ nosuchfield }"}`,
		`{"query":"{ viewer"}`,
		`not json`,
		`{"query":"subscription { auditEvents(organization: \"acme\") }"}`,
	} {
		postGraphQL(t, gql, body)
	}

	s := metricstest.Parse(t, scrape(t, m))
	for _, c := range []struct {
		operation, outcome string
		want               float64
	}{
		{"viewer", "ok", 4},
		{"organization,viewer", "ok", 2},
		{"broken", "error", 1},
		{"createUser", "ok", 1},
		{"(many)", "ok", 1},
		{"(invalid)", "error", 3},
		{"auditEvents", "ok", 1},
	} {
		t.Run(c.operation+" "+c.outcome, func(t *testing.T) {
			if got := s.Get("auditgraph_graphql_operations_total", "operation", c.operation, "outcome", c.outcome); got != c.want {
				t.Errorf("operations{operation=%q,outcome=%q} = %v, want %v; series: %q", c.operation, c.outcome, got, c.want,
					s.Series("auditgraph_graphql_operations_total"))
			}
		})
	}
	if n := len(s.Series("auditgraph_graphql_operations_total")); n != 7 {
		t.Errorf("operation series = %d, want 7: %q", n, s.Series("auditgraph_graphql_operations_total"))
	}
	if got := s.Get("auditgraph_graphql_operation_duration_seconds_count", "operation", "viewer"); got != 4 {
		t.Errorf("viewer duration count = %v, want 4", got)
	}
	// "not json" never had an operation to time.
	if got := s.Get("auditgraph_graphql_operation_duration_seconds_count", "operation", "(invalid)"); got != 2 {
		t.Errorf("(invalid) duration count = %v, want 2", got)
	}
	if s.Has("auditgraph_graphql_operation_duration_seconds_count", "operation", "auditEvents") {
		t.Error("a subscription was timed, want it left out of the duration histogram")
	}
}

func TestIngestCounts(t *testing.T) {
	m, _ := newMetrics(t)
	actions := []audit.Action{audit.UserLogin, audit.RunStop, audit.UserLogin, "no:such_action"}
	m.Ingested(len(actions), func(i int) audit.Action { return actions[i] }, 1, 2)
	m.Ingested(1, func(int) audit.Action { return audit.UserLogin }, 0, 0)
	for _, reason := range []string{string(audit.KeyTimestamp), "", "alice@x.io", metrics.RejectBody, metrics.RejectForbidden} {
		m.BatchRejected(reason)
	}

	s := metricstest.Parse(t, scrape(t, m))
	for _, c := range []struct {
		series []string
		want   float64
	}{
		{[]string{"auditgraph_audit_events_ingested_total", "action", "user:login"}, 3},
		{[]string{"auditgraph_audit_events_ingested_total", "action", "run:stop"}, 1},
		{[]string{"auditgraph_audit_events_ingested_total", "action", "team:create"}, 0},
		{[]string{"auditgraph_audit_events_duplicates_total"}, 1},
		{[]string{"auditgraph_audit_events_dropped_total"}, 2},
		{[]string{"auditgraph_audit_batches_rejected_total", "reason", "timestamp"}, 1},
		{[]string{"auditgraph_audit_batches_rejected_total", "reason", "line"}, 2},
		{[]string{"auditgraph_audit_batches_rejected_total", "reason", "body"}, 1},
		{[]string{"auditgraph_audit_batches_rejected_total", "reason", "forbidden"}, 1},
		{[]string{"auditgraph_audit_batches_rejected_total", "reason", "org"}, 0},
	} {
		t.Run(strings.Join(c.series, " "), func(t *testing.T) {
			if !s.Has(c.series[0], c.series[1:]...) {
				t.Errorf("%q: no such series, want %v", c.series, c.want)
			} else if got := s.Get(c.series[0], c.series[1:]...); got != c.want {
				t.Errorf("%q = %v, want %v", c.series, got, c.want)
			}
		})
	}
	// Each action of the catalog has a series from the start; nothing else.
	if got, want := len(s.Series("auditgraph_audit_events_ingested_total")), len(audit.Actions()); got != want {
		t.Errorf("ingested series = %d, want one per catalog action (%d): %q", got, want, s.Series("auditgraph_audit_events_ingested_total"))
	}
}

func TestActivityLag(t *testing.T) {
	m, _ := newMetrics(t)
	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	users, oldest := 0, time.Time{}
	m.WatchActivity(func() (int, time.Time) { return users, oldest }, func() time.Time { return now })
	s := metricstest.Parse(t, scrape(t, m))
	if got := s.Get("auditgraph_activity_pending_users"); got != 0 {
		t.Errorf("pending users with nothing waiting = %v, want 0", got)
	}
	if got := s.Get("auditgraph_activity_rollup_lag_seconds"); got != 0 {
		t.Errorf("lag with nothing waiting = %v, want 0", got)
	}
	users, oldest = 3, now.Add(-7*time.Second)
	s = metricstest.Parse(t, scrape(t, m))
	if got := s.Get("auditgraph_activity_pending_users"); got != 3 {
		t.Errorf("pending users = %v, want 3", got)
	}
	if got := s.Get("auditgraph_activity_rollup_lag_seconds"); got != 7 {
		t.Errorf("lag = %v, want 7", got)
	}
}

func TestPoolFigures(t *testing.T) {
	m, db := newMetrics(t)
	db.SetMaxOpenConns(7)
	s := metricstest.Parse(t, scrape(t, m))
	for name, want := range map[string]float64{
		"auditgraph_db_pool_max_open_connections": 7,
		"auditgraph_db_pool_open_connections":     0,
		"auditgraph_db_pool_in_use_connections":   0,
		"auditgraph_db_pool_idle_connections":     0,
		"auditgraph_db_pool_waits_total":          0,
		"auditgraph_db_pool_wait_seconds_total":   0,
	} {
		if !s.Has(name) {
			t.Errorf("%s: missing", name)
		} else if got := s.Get(name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total"} {
		if len(s.Series(name)) == 0 {
			t.Errorf("%s: missing, want the Go and process collectors", name)
		}
	}
}

// TestNoLabelFromUserInput sends emails, IP addresses, organization names
// and made-up methods everywhere a client can put them, and checks that the
// exposition holds none of them.
func TestNoLabelFromUserInput(t *testing.T) {
	m, _ := newMetrics(t)
	mux := testMux()
	gql := newGraphQL(m)
	mux.Handle("/graphql", gql)
	h := m.Instrument(mux)
	secrets := []string{"alice@x.io", "203.0.113.9", "acme-secret-org", "BREW", "MineOp", "evilkey"}
	for _, target := range []string{
		"/users/alice@x.io?ip=203.0.113.9",
		"/203.0.113.9/alice@x.io",
		"/teams/acme-secret-org/members?email=alice@x.io",
		"/users/alice@x.io/../203.0.113.9",
		"//alice@x.io",
	} {
		for _, method := range []string{"GET", "POST", "BREW"} {
			serve(h, method, target)
		}
	}
	for _, body := range []string{
		`{"query":"query MineOp { organization(name: \"acme-secret-org\") }","operationName":"MineOp"}`,
		`{"query":"{ alice@x.io }"}`,
		`{"query":"{ evilkey }"}`,
		`{"query":"mutation { createUser(email: \"alice@x.io\") }"}`,
	} {
		postGraphQL(t, h, body)
	}
	m.BatchRejected("evilkey")
	m.BatchRejected("alice@x.io")

	text := scrape(t, m)
	for _, s := range secrets {
		if bytes.Contains(text, []byte(s)) {
			t.Errorf("exposition contains %q:\n%s", s, grep(text, s))
		}
	}
}

func grep(text []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(text), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestExpositionLints holds every family, with a series each, to the
// rules promtool check metrics applies.
func TestExpositionLints(t *testing.T) {
	m, _ := newMetrics(t)
	h := m.Instrument(testMux())
	serve(h, "GET", "/users/alice")
	postGraphQL(t, newGraphQL(m), `{"query":"{ viewer }"}`)
	m.Ingested(1, func(int) audit.Action { return audit.UserLogin }, 0, 0)
	m.BatchRejected(metrics.RejectBody)
	problems, err := promlint.New(bytes.NewReader(scrape(t, m))).Lint()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}
