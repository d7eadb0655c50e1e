package browsertest_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/log/live"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// liveServer is the server of an Audit log test: a real HTTP server with
// the live audit-event hub (Subscription.auditEvents), on a fixed loopback
// address, that the test can stop (every connection cut, WebSockets too, as
// a crash or a restart does) and start again on the same address over the
// same database.
type liveServer struct {
	t     testing.TB
	addr  string
	dbURL string
	store *storage.Store
	ids   *identity.Service
	mode  deployment.Mode
	log   *slog.Logger
	// buffer is each subscriber's buffer from the next start (0: the
	// hub's default): how far it may fall behind before SUBSCRIBER_TOO_SLOW.
	buffer int

	mu      sync.Mutex
	srv     *http.Server
	conns   map[net.Conn]struct{}
	stopHub context.CancelFunc
	hubDone chan struct{}
}

// newAuditEnv is newEnv with a liveServer: mode, the instance admin "admin"
// and (self-managed, dedicated) the organization "default".
func newAuditEnv(t testing.TB, mode deployment.Mode) (*env, *liveServer) {
	t.Helper()
	ctx := context.Background()
	dbURL := storagetest.URL(t)
	st, err := storage.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("BROWSERTEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ids := identity.New(st, mode, log)
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: adminKey, OrgName: "default"}); err != nil {
		t.Fatal(err)
	}
	admin, err := st.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ls := &liveServer{t: t, addr: ln.Addr().String(), dbURL: dbURL, store: st, ids: ids, mode: mode, log: log}
	ls.start(ln)
	t.Cleanup(ls.stop)
	now := time.Now().UTC()
	e := &env{t: t, ctx: ctx, mode: mode, store: st, ids: ids, admin: &auth.Principal{User: admin},
		keys: map[string]string{"admin": adminKey}, today: time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC),
		url: "http://" + ls.addr}
	return e, ls
}

// start serves on ln (nil: listen on the server's address again).
func (s *liveServer) start(ln net.Listener) {
	s.t.Helper()
	if ln == nil {
		var err error
		// The port was just freed; another process may hold it a moment.
		for i := 0; ; i++ {
			if ln, err = net.Listen("tcp", s.addr); err == nil || i == 50 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			s.t.Fatalf("listen on %s again: %v", s.addr, err)
		}
	}
	hub := live.New(live.Config{URL: s.dbURL, Store: s.store, Log: s.log, Buffer: s.buffer})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { hub.Run(ctx); close(done) }()
	select {
	case <-hub.Ready():
	case <-time.After(10 * time.Second):
		s.t.Fatal("live hub not listening after 10s")
	}
	srv := &http.Server{
		Handler: server.New(server.Config{Services: app.New(s.store), Identity: s.ids, Mode: s.mode, Log: s.log, Live: hub}),
		ConnState: func(c net.Conn, st http.ConnState) {
			s.mu.Lock()
			defer s.mu.Unlock()
			if st == http.StateClosed {
				delete(s.conns, c)
			} else {
				s.conns[c] = struct{}{}
			}
		},
	}
	s.mu.Lock()
	s.srv, s.conns, s.stopHub, s.hubDone = srv, map[net.Conn]struct{}{}, cancel, done
	s.mu.Unlock()
	go srv.Serve(ln)
}

// stop ends the server as a crash would: the listener and every connection
// (hijacked WebSockets included) closed, the hub stopped.
func (s *liveServer) stop() {
	s.mu.Lock()
	srv, conns, stopHub, done := s.srv, s.conns, s.stopHub, s.hubDone
	s.srv, s.conns = nil, map[net.Conn]struct{}{}
	s.mu.Unlock()
	if srv == nil {
		return
	}
	srv.Close()
	for c := range conns {
		c.Close()
	}
	stopHub()
	<-done
}

// restart stops the server and starts it again on the same address.
func (s *liveServer) restart() {
	s.stop()
	s.start(nil)
}

// auditIngestAt reports NDJSON events to org through POST /api/v1/audit_events as
// admin on base (the server's URL, or another replica's).
func (e *env) auditIngestAt(base, org, ndjson string) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, base+"/api/v1/audit_events?org="+org, strings.NewReader(ndjson))
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth("admin", adminKey)
	req.Header.Set("Content-Type", "application/x-ndjson")
	code, b := e.send(req)
	if code != http.StatusOK {
		e.t.Fatalf("POST /api/v1/audit_events?org=%s = %d %s", org, code, b)
	}
}

// auditIngest reports NDJSON events to org on the test's server.
func (e *env) auditIngest(org, ndjson string) {
	e.t.Helper()
	e.auditIngestAt(e.url, org, ndjson)
}

// auditReplica returns the URL of another server process on the same database
// (no live hub): what stores events while the test's server is down.
func (e *env) auditReplica() string {
	e.t.Helper()
	srv := httptest.NewServer(server.New(server.Config{Services: app.New(e.store), Identity: e.ids, Mode: e.mode, Log: slog.New(slog.DiscardHandler)}))
	e.t.Cleanup(srv.Close)
	return srv.URL
}
