// Package server wires auditgraph's HTTP APIs: GraphQL, health checks and,
// later, the REST audit-log API.
package server

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/activity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/identity/session"
	"github.com/auditgraph/auditgraph/internal/log/live"
	"github.com/auditgraph/auditgraph/internal/log/verify"
	"github.com/auditgraph/auditgraph/internal/platform/dashboard"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/loaders"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
	"github.com/auditgraph/auditgraph/internal/platform/playground"
	"github.com/auditgraph/auditgraph/resolvers"
)

// Config is what the HTTP server needs.
type Config struct {
	// Services are the domain services over the server's store: the server
	// reaches the database through them only.
	Services *app.Services
	Identity *identity.Service
	Mode     deployment.Mode
	Log      *slog.Logger
	// Version is reported by the index page.
	Version string
	// Tracker, when set, counts authenticated requests as user activity
	// (self-managed and dedicated only: multi-tenant counts audited actions).
	Tracker *activity.Tracker
	// ActivityCutoff is the first instant that counts as activity in
	// multi-tenant mode.
	ActivityCutoff time.Time
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Live, when set, serves the auditEvents subscription; whoever creates
	// it runs it.
	Live *live.Hub
	// Metrics records the server's metrics; nil makes a set of its own.
	Metrics *metrics.Metrics
	// MetricsElsewhere says the caller serves Metrics on a listener of its
	// own (--metrics-listen), so this handler has no /metrics route.
	MetricsElsewhere bool
	// Secrets seals and opens stored secrets (Slack, webhooks); nil when the
	// server runs without the instance key.
	Secrets *secretbox.Box
	// PublicURL is the URL users reach the server at (the Slack redirect URL).
	PublicURL string
	// SlackAPIURL and SlackAuthorizeURL replace Slack's Web API base and
	// OAuth authorize URL when set (tests, Slack-compatible gateways).
	SlackAPIURL, SlackAuthorizeURL string
	// Verify answers the verifyAuditLog and auditLogIntegrity queries with
	// the server's signing keys; nil means a service with none
	// (Services.Verify): it verifies the hash chain, and says that the
	// server signs no checkpoints.
	Verify *verify.Service
	// GraphQLMaxBody is the largest POST /graphql body read, in bytes;
	// larger ones get 413. 0 means DefaultGraphQLMaxBody.
	GraphQLMaxBody int64
	// IngestMemory bounds the decompressed bytes of the audit event batches
	// being read or stored at once; a batch that finds no room within
	// IngestWait is refused with 503. Zero means DefaultIngestMemory and 5s.
	IngestMemory int64
	IngestWait   time.Duration
	// Sessions keeps the dashboard's sign-in sessions; nil makes one over
	// Store and Identity with SessionIdleTimeout, SessionLifetime (zero:
	// session's defaults) and Now.
	Sessions                            *session.Service
	SessionIdleTimeout, SessionLifetime time.Duration
	// AuthCache, when set, answers authentication (API keys, sessions)
	// from memory for a short time; its Run must be running, and Identity
	// should use it too (identity.Service.UseCache). See auth.Cache.
	AuthCache *auth.Cache
}

// New returns the handler of every route.
func New(cfg Config) http.Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.GraphQLMaxBody <= 0 {
		cfg.GraphQLMaxBody = DefaultGraphQLMaxBody
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New(cfg.Services.DB())
	}
	authn := auth.New(cfg.Services.Keys(), cfg.Log)
	authn.OnFailure = cfg.Metrics.AuthFailure
	authn.UseCache(cfg.AuthCache)
	if cfg.Sessions == nil {
		cfg.Sessions = cfg.Services.Sessions(cfg.Identity, session.Config{IdleTimeout: cfg.SessionIdleTimeout,
			Lifetime: cfg.SessionLifetime, Now: cfg.Now, Log: cfg.Log, Cache: cfg.AuthCache})
	}
	authn.Sessions = cfg.Sessions
	authn.SecureCookies = secureURL(cfg.PublicURL)
	api := &rest{svc: cfg.Services, ids: cfg.Identity, mode: cfg.Mode, log: cfg.Log, now: cfg.Now, metrics: cfg.Metrics,
		batches: newBatchLimiter(cfg.IngestMemory, cfg.IngestWait, cfg.Metrics)}
	if cfg.Mode.MultiTenant() {
		api.activeSince = cfg.ActivityCutoff
	}
	// seen counts a user as active (self-managed and dedicated).
	var seen func(userID int64)
	if cfg.Tracker != nil && !cfg.Mode.MultiTenant() {
		seen = func(userID int64) { cfg.Tracker.Seen(userID, cfg.Now()) }
	}
	// guard makes require (authn.Require or authn.RequireSession) count
	// the request as activity.
	guard := func(require func(http.Handler) http.Handler) func(http.Handler) http.Handler {
		return func(h http.Handler) http.Handler {
			if seen == nil {
				return require(h)
			}
			return require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen(auth.FromContext(r.Context()).User.ID)
				h.ServeHTTP(w, r)
			}))
		}
	}
	// protect requires credentials (Basic or Bearer) and counts the request
	// as activity; protectSession takes the dashboard's session cookie too
	// (an Authorization header wins).
	protect, protectSession := guard(authn.Require), guard(authn.RequireSession)
	si := &signin{authn: authn, sessions: cfg.Sessions, mode: cfg.Mode, secure: authn.SecureCookies, log: cfg.Log, seen: seen}
	conn := newConnect(cfg)
	svc := cfg.Services
	if cfg.Verify == nil {
		cfg.Verify = svc.Verify()
	}
	res := &resolvers.Resolver{Identity: cfg.Identity, Rules: svc.Rules(), Stats: svc.Stats(),
		AuditLog: svc.AuditLog(cfg.Mode), Loaders: func(ctx context.Context) *loaders.Loaders { return svc.Loaders(ctx) }, Mode: cfg.Mode, Log: cfg.Log, Now: cfg.Now, Live: cfg.Live, Secrets: cfg.Secrets, Connect: conn, Verify: cfg.Verify}
	gql := svc.LoaderMiddleware(newGraphQL(res, cfg.Log, websocketInit(authn, cfg.Log, seen, newSessions(svc.Revocations(), cfg.Sessions, revalidateEvery, cfg.Log)), cfg.Metrics, cfg.GraphQLMaxBody, publicOrigin(cfg.PublicURL)))

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if err := cfg.Services.Ready(r.Context()); err != nil {
			cfg.Log.WarnContext(r.Context(), "not ready", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": err.Error()})
			return
		}
		// A read standby is reported, never a reason to be unready: while
		// it is bypassed the primary answers its reads.
		if rr := cfg.Services.ReadReplica(); rr != nil {
			writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "read_replica": rr})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.Handle("/graphql", websocketOr(gql, protectSession(gql), publicOrigin(cfg.PublicURL)))
	mux.Handle("POST /api/v1/audit_events", protect(http.HandlerFunc(api.ingest)))
	mux.Handle("GET /admin/audit_logs", protectSession(http.HandlerFunc(api.auditLogs)))
	mux.Handle("GET /admin/users.csv", protectSession(http.HandlerFunc(api.usersCSV)))
	// The dashboard's sign-in: POST signs in (the credentials are in the
	// body), DELETE signs out (whatever the session's state).
	mux.HandleFunc("POST /api/session", si.create)
	mux.Handle("GET /api/session", protectSession(http.HandlerFunc(si.show)))
	mux.HandleFunc("DELETE /api/session", si.end)
	routeSlack(mux, conn, api, protectSession)
	if !cfg.MetricsElsewhere {
		// The figures add up every organization's traffic and events, so on
		// the API's listener they are for instance admins; a scraper without
		// credentials gets its own listener (--metrics-listen). A scrape is
		// not user activity: authn.Require, not protect.
		mux.Handle("GET /metrics", authn.Require(instanceAdminOnly(cfg.Metrics.Handler())))
	}
	// The playground page and its assets hold no data: they load without
	// credentials, and the page asks for them before it sends any query.
	pg := playground.Handler("/graphql")
	mux.Handle("/graphiql", pg)
	mux.Handle("/graphiql/", pg)
	// The dashboard's pages are one HTML shell and its script, which hold no
	// data either: the script asks the API, which checks the credentials.
	// Its routes are dashboard.Routes, written out for the permission matrix.
	dash := dashboard.Handler(string(cfg.Mode))
	mux.Handle("/signin", dash)
	mux.Handle("/org/dashboard", dash)
	mux.Handle("/org/dashboard/", dash)
	mux.Handle("/account-settings/", dash)
	mux.Handle("/ui/", dash)
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		// A signed-in browser goes on to its dashboard.
		if si.signedIn(w, r) {
			w.Header().Set("Cache-Control", "no-store")
			http.Redirect(w, r, si.home(), http.StatusFound)
			return
		}
		w.Header().Set("Cache-Control", "no-store")
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		indexPage.Execute(w, struct{ Version, Mode string }{cfg.Version, string(cfg.Mode)})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		auth.WriteError(w, http.StatusNotFound, fmt.Sprintf("no route for %s %s", r.Method, r.URL.Path))
	})
	// Answers are gzipped for clients that accept it (compress.go).
	return logRequests(cfg.Log, cfg.Metrics.InstrumentHandler(mux, refuseCrossOrigin(cfg.PublicURL, compressAnswers(mux))))
}

// instanceAdminOnly refuses every authenticated caller but instance admins.
func instanceAdminOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !auth.FromContext(r.Context()).User.InstanceAdmin {
			auth.WriteError(w, http.StatusForbidden, "metrics are for instance admins")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.code = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// logRequests logs one line per request: never headers or query strings,
// which can carry credentials.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, code: http.StatusOK}
		next.ServeHTTP(rec, r)
		log.LogAttrs(r.Context(), slog.LevelDebug, "request",
			slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.code), slog.Duration("duration", time.Since(start)))
	})
}
