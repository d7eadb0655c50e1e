package resolvers_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lib/pq"

	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// The dashboard's queries and what each costs the database once the
// caller's credentials are known to the server (the second request of a
// client): statements sent, and round trips (a round trip is the server
// waiting for PostgreSQL's answer; BEGIN and COMMIT count, as do a
// statement's parse and execute when they go apart). README: "What a
// dashboard query costs". A count that grows fails the test; one that
// shrinks is a change to write down here and there.
var dashboardCosts = []struct {
	name  string
	mode  deployment.Mode
	query string
	// The most statements and round trips the query may cost without the
	// auth cache (tests, or a server whose cache is not listening) and
	// with it (a server answering a client it has seen).
	uncached, cached [2]int
}{
	{"members page", deployment.SelfManaged, `{ organization(name:"default") { users(first:50, orderBy:{field:LAST_ACTIVE, direction:DESC}) { nodes { username email lastActiveAt } } } }`, [2]int{3, 3}, [2]int{1, 1}},
	{"login events page", deployment.SelfManaged, `{ organization(name:"default") { auditEvents(first:50, filter:{actions:["user:login"], from:"2000-01-01T00:00:00Z"}) { nodes { sequence timestamp action actorEmail responseCode } } } }`, [2]int{3, 3}, [2]int{1, 1}},
	{"README dashboard query", deployment.SelfManaged, readmeDashboardQuery, [2]int{8, 8}, [2]int{6, 6}},
	{"totalActiveUsers", deployment.SelfManaged, panel("totalActiveUsers { count }"), [2]int{3, 3}, [2]int{1, 1}},
	{"totalActiveUsers ALL_TIME", deployment.SelfManaged, panel("totalActiveUsers(period: ALL_TIME) { count }"), [2]int{4, 4}, [2]int{2, 2}},
	{"usersActiveOverTime", deployment.SelfManaged, panel("usersActiveOverTime(period: LAST_30_DAYS) { points { date activeUsers } }"), [2]int{3, 3}, [2]int{1, 1}},
	{"usersActiveOverTime LAST_3_MONTHS", deployment.SelfManaged, panel("usersActiveOverTime(period: LAST_3_MONTHS) { points { date activeUsers } }"), [2]int{3, 3}, [2]int{1, 1}},
	{"activeUserCount", deployment.MultiTenant, panel("activeUserCount(period: LAST_7_DAYS) { count }"), [2]int{3, 3}, [2]int{1, 1}},
	{"weeklyActiveUsers", deployment.MultiTenant, panel("weeklyActiveUsers(period: LAST_30_DAYS) { points { date activeUsers } }"), [2]int{3, 3}, [2]int{1, 1}},
	// mostActiveUsers: one statement more than the other panels since the
	// day bitmaps (migration 0014): the period's bitmaps, ranked in the
	// server, then the candidates' last activity and users by key.
	{"mostActiveUsers", deployment.MultiTenant, panel("mostActiveUsers(period: LAST_7_DAYS) { users { user { username } activeDays } }"), [2]int{4, 4}, [2]int{2, 2}},
}

// readmeDashboardQuery is the README's example under "The organization
// dashboard".
const readmeDashboardQuery = `{ organization(name: "default") {
	users(first: 50, filter: {status: [ACTIVE]}, orderBy: {field: LAST_ACTIVE, direction: DESC}) {
	  totalCount
	  nodes { name username email role status lastActiveAt lastActiveDisplay activeDays dateAdded teams { name } }
	  pageInfo { hasNextPage endCursor } }
	activity {
	  totalActiveUsers { count }
	  usersActiveOverTime(period: LAST_30_DAYS) { points { date activeUsers } } }
	auditEvents(first: 20, filter: {actions: ["user:login"], responseCodeMin: 400}) {
	  nodes { timestamp action actorEmail responseCode } } } }`

func panel(p string) string {
	return `{ organization(name: "default") { activity { ` + p + ` } } }`
}

// trips counts the round trips of the postgres-cost driver's connections.
var (
	trips        atomic.Int64
	registerCost sync.Once
)

// tripConn counts a round trip at each read that follows a write.
type tripConn struct {
	net.Conn
	wrote atomic.Bool
}

func (c *tripConn) Write(b []byte) (int, error) {
	c.wrote.Store(true)
	return c.Conn.Write(b)
}

func (c *tripConn) Read(b []byte) (int, error) {
	if c.wrote.Swap(false) {
		trips.Add(1)
	}
	return c.Conn.Read(b)
}

type tripDialer struct{ d net.Dialer }

func (d tripDialer) Dial(network, addr string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, addr)
}

func (d tripDialer) DialTimeout(network, addr string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, addr)
}

func (d tripDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c, err := d.d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, err
	}
	return &tripConn{Conn: c}, nil
}

// costDriver is lib/pq configured as storage.Open configures it (binary
// parameters: one round trip per statement), recording statements as the
// counting driver does and counting round trips.
type costDriver struct{}

func (costDriver) Open(name string) (driver.Conn, error) {
	cfg, err := pq.NewConfig(name)
	if err != nil {
		return nil, err
	}
	cfg.BinaryParameters = true
	connector, err := pq.NewConnectorConfig(cfg)
	if err != nil {
		return nil, err
	}
	connector.Dialer(tripDialer{})
	c, err := connector.Connect(context.Background())
	if err != nil {
		return nil, err
	}
	pc, ok := c.(pqConn)
	if !ok {
		c.Close()
		return nil, fmt.Errorf("lib/pq connection %T lacks a method the counting driver passes through", c)
	}
	return countingConn{pc}, nil
}

// costEnv returns an env of mode whose server reads through the
// postgres-cost driver, with the organization "default" holding 60
// members (the org admin "boss" among them), most with activity, three
// teams, and 120 events of which 40 user:login.
func costEnv(t *testing.T, mode deployment.Mode, cached bool) *env {
	registerCost.Do(func() { sql.Register("postgres-cost", costDriver{}) })
	ctx := context.Background()
	st, counted, dbURL := openCounted(t, "postgres-cost")
	var cache *auth.Cache
	if cached {
		cache = auth.NewCache(time.Minute, slog.New(slog.DiscardHandler))
		ctx, cancel := context.WithCancel(ctx)
		done := make(chan error, 1)
		go func() { done <- cache.Run(ctx, dbURL) }()
		t.Cleanup(func() {
			cancel()
			if err := <-done; err != nil {
				t.Error(err)
			}
		})
		for !cache.Listening() {
			time.Sleep(5 * time.Millisecond)
		}
	}
	e := newEnvCached(t, mode, st, counted, cache)
	if mode.MultiTenant() {
		e.org("default", "enterprise") // the bootstrap makes none
	}
	e.add("default", member{username: "boss", role: "admin"})
	var names []string
	for i := range 59 {
		u := fmt.Sprintf("m%02d", i)
		e.add("default", member{username: u})
		names = append(names, u)
		if i%5 != 0 {
			e.active(u, now.Add(-time.Duration(i)*37*time.Hour))
		}
	}
	e.active("boss", now.Add(-time.Hour))
	e.team("default", "red", names[:20]...)
	e.team("default", "blue", names[10:40]...)
	e.team("default", "green", names[30:]...)
	var b strings.Builder
	for i := range 120 {
		action, code := "run:update", 200
		if i%3 == 0 {
			action, code = "user:login", 200+i%2*201
		}
		fmt.Fprintf(&b, `{"action":%q,"timestamp":%q,"actor_email":"m%02d@x.io","response_code":%d}`+"\n",
			action, now.Add(-time.Duration(i)*time.Hour).Format(time.RFC3339), i%59, code)
	}
	e.ingest("boss", "default", b.String())
	return e
}

// cost runs query as username, first to warm the server up (its caches,
// the pool's connections and the statements prepared on them: until a run
// prepares none, at most ten runs), then three times, and returns the
// fewest statements and round trips a run cost, with the statements of
// that run. The loaders' 1 ms wait can split a batch on a busy machine;
// the fewest is what the code asks for.
func (e *env) cost(username, query string) (int, int, []string) {
	e.t.Helper()
	return costOf(func() { e.mustQuery(username, query, nil, &struct{}{}) })
}

// costOf is cost for any request that run makes.
func costOf(run func()) (int, int, []string) {
	for range 10 {
		before := nSent()
		run()
		if !slices.ContainsFunc(sent(before), func(s string) bool { return strings.HasPrefix(s, "PREPARE ") }) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	best, bestTrips := -1, 0
	var bestSent []string
	for range 3 {
		time.Sleep(20 * time.Millisecond) // let work after the last answer settle
		before, t0 := nSent(), trips.Load()
		run()
		got, tr := sent(before), int(trips.Load()-t0)
		// A statement prepared on a pooled connection that had not run it
		// yet is paid once per connection, not per request: the figure is
		// the steady state, so it is not counted (the warm-up above cannot
		// make sure that every connection of the pool has run it).
		n := len(got)
		for _, s := range got {
			if strings.HasPrefix(s, "PREPARE ") {
				n, tr = n-1, tr-1
			}
		}
		if best < 0 || n < best || n == best && tr < bestTrips {
			best, bestTrips, bestSent = n, tr, got
		}
	}
	return best, bestTrips, bestSent
}

// TestDashboardQueryCost measures the statements and round trips of each
// dashboard query (dashboardCosts) as an organization admin with an API
// key, and fails when one costs more than its entry allows. Not parallel:
// the statement log and the round-trip count are shared.
func TestDashboardQueryCost(t *testing.T) {
	type envs struct{ uncached, cached *env }
	byMode := map[deployment.Mode]envs{}
	for _, mode := range []deployment.Mode{deployment.SelfManaged, deployment.MultiTenant} {
		byMode[mode] = envs{costEnv(t, mode, false), costEnv(t, mode, true)}
	}
	var table []string
	for _, c := range dashboardCosts {
		t.Run(string(c.mode)+"/"+c.name, func(t *testing.T) {
			n, tr, got := byMode[c.mode].uncached.with(t).cost("boss", c.query)
			cn, ctr, cgot := byMode[c.mode].cached.with(t).cost("boss", c.query)
			table = append(table, fmt.Sprintf("| %s (%s) | %d / %d | %d / %d |", c.name, c.mode, n, tr, cn, ctr))
			if n > c.uncached[0] || tr > c.uncached[1] {
				t.Errorf("%s without the auth cache costs %d statements and %d round trips, want at most %d and %d:\n%s",
					c.name, n, tr, c.uncached[0], c.uncached[1], strings.Join(got, "\n"))
			}
			if cn > c.cached[0] || ctr > c.cached[1] {
				t.Errorf("%s with the auth cache costs %d statements and %d round trips, want at most %d and %d:\n%s",
					c.name, cn, ctr, c.cached[0], c.cached[1], strings.Join(cgot, "\n"))
			}
		})
	}
	t.Logf("statements / round trips of each query:\n| query | without the auth cache | with it |\n|---|---|---|\n%s", strings.Join(table, "\n"))
}

// TestIngestCost measures the statements and round trips of storing one
// reported 1-event batch with a client id, whose actor is a member, through
// the REST API with the auth cache as `serve` has it, and fails when they
// grow. Four round trips: BEGIN; LockLog (the lock, the id claim, the
// members among the actors, the rules); AppendEvents (the insert, the head,
// the activity, the announcement); COMMIT. Two statements: the counting
// driver does not record BEGIN and COMMIT.
func TestIngestCost(t *testing.T) {
	e := costEnv(t, deployment.SelfManaged, true)
	i := 0
	n, tr, got := costOf(func() {
		i++
		e.ingest("boss", "default", fmt.Sprintf(`{"id":"cost-%d","action":"run:update","actor_email":"m01@x.io"}`+"\n", i))
	})
	if n > 2 || tr > 4 {
		t.Errorf("a 1-event batch costs %d statements and %d round trips, want at most 2 and 4:\n%s", n, tr, strings.Join(got, "\n"))
	}
	t.Logf("a 1-event batch: %d statements, %d round trips", n, tr)
}
