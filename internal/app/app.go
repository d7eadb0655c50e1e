// Package app builds the domain services of one server over one store. The
// HTTP server (internal/server), and through it the GraphQL resolvers, reach
// the database only through what Services hands out, each a service that
// checks the caller's rights before it reads or writes; neither imports
// storage (tools/layering tests it). The command (cmd/auditgraph) and tests
// make one with New over the store they opened.
package app

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"time"

	"github.com/auditgraph/auditgraph/internal/alerting/connect"
	"github.com/auditgraph/auditgraph/internal/alerting/rules"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/activity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/identity/session"
	"github.com/auditgraph/auditgraph/internal/identity/userexport"
	"github.com/auditgraph/auditgraph/internal/log/auditlog"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/log/verify"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/loaders"
	"github.com/auditgraph/auditgraph/storage"
)

// Services hands out the services over one store.
type Services struct {
	store    *storage.Store
	ingester *ledger.Ingester
}

// New returns the services over store.
func New(store *storage.Store) *Services {
	return &Services{store: store, ingester: ledger.NewIngester(store)}
}

// Keys is what authentication reads: API keys and their users.
func (s *Services) Keys() auth.Keys { return s.store }

// Revocations tells which API keys no longer authenticate, for the
// WebSocket connections opened with them.
func (s *Services) Revocations() interface {
	RevokedKeys(ctx context.Context, ids []int64) (map[int64]string, error)
} {
	return s.store
}

// Access is what the rules of package access read (memberships,
// organizations), for the REST routes' org parameter (access.Org).
func (s *Services) Access() access.NameReader { return s.store }

// Rules is the alert rules' service.
func (s *Services) Rules() *rules.Service { return rules.New(s.store) }

// Stats is the activity panels' service.
func (s *Services) Stats() *activity.Stats { return activity.NewStats(s.store) }

// AuditLog is the audit log's reader for a server running in mode.
func (s *Services) AuditLog(mode deployment.Mode) *auditlog.Reader {
	return auditlog.NewReader(s.store, mode)
}

// Exporter is the users file's service for a server running in mode.
func (s *Services) Exporter(mode deployment.Mode) *userexport.Exporter {
	return userexport.NewExporter(s.store, mode)
}

// Ingester stores reported batches of audit events. It is the same one for
// every call: it groups concurrent batches for one organization into one
// transaction.
func (s *Services) Ingester() *ledger.Ingester { return s.ingester }

// Connect is the integrations' service; cfg.Store is set to the store.
func (s *Services) Connect(cfg connect.Config) *connect.Service {
	cfg.Store = s.store
	return connect.New(cfg)
}

// Verify is the audit-log verification service of a server without
// signing keys: it verifies the hash chain, and its integrity facts say
// that no checkpoint is signed. A server with a key (serve) makes its own
// with the key.
func (s *Services) Verify() *verify.Service { return &verify.Service{Store: s.store} }

// Loaders returns the request's dataloaders, or fresh ones when ctx has
// none (LoaderMiddleware puts them there).
func (s *Services) Loaders(ctx context.Context) *loaders.Loaders { return loaders.For(ctx, s.store) }

// LoaderMiddleware gives each request fresh dataloaders.
func (s *Services) LoaderMiddleware(next http.Handler) http.Handler {
	return loaders.Middleware(s.store, next)
}

// DB is the database handle, for the metrics of its connection pool.
func (s *Services) DB() *sql.DB { return s.store.DB().DB }

// Ready checks that the database answers and has every migration applied.
func (s *Services) Ready(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.store.DB().PingContext(ctx); err != nil {
		return fmt.Errorf("database unreachable: %w", err)
	}
	n, err := s.store.Pending(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("%d database migrations not applied", n)
	}
	return nil
}

// ReadReplica is what /readyz says of the read standby
// (serve --read-database-url).
type ReadReplica struct {
	// Status is "ok" while reads go to it, "bypassed" while they read the
	// primary.
	Status string `json:"status"`
	// LagSeconds is the replication lag its last check measured.
	LagSeconds *float64 `json:"lag_seconds,omitempty"`
	// Reason says why it is bypassed.
	Reason string `json:"reason,omitempty"`
}

// ReadReplica returns the read standby's state, nil when there is none. A
// standby that is bypassed does not make the server unready: the primary
// answers for it.
func (s *Services) ReadReplica() *ReadReplica {
	st := s.store.Standby()
	if !st.Configured {
		return nil
	}
	r := &ReadReplica{Status: "ok", Reason: st.Reason}
	if !st.Used {
		r.Status = "bypassed"
	}
	if st.LagKnown {
		lag := st.Lag.Seconds()
		r.LagSeconds = &lag
	}
	return r
}

// Unavailable reports whether err says that the database could not be
// reached or went away while it worked (storage.Unavailable), rather than
// that it refused the work: the same request can succeed once it is back.
func Unavailable(err error) bool { return storage.Unavailable(err) }

// Sessions is the sign-in sessions' service.
func (s *Services) Sessions(ids *identity.Service, cfg session.Config) *session.Service {
	return session.New(s.store, ids, cfg)
}
