// Package resolvers answers the GraphQL schema in schema/. Resolvers stay
// thin: they translate between GraphQL and the services (identity, connect,
// rules, activity, auditlog, verify), which decide who may do what.
package resolvers

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/auditgraph/auditgraph/internal/alerting/connect"
	"github.com/auditgraph/auditgraph/internal/alerting/rules"
	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/activity"
	"github.com/auditgraph/auditgraph/internal/log/auditlog"
	"github.com/auditgraph/auditgraph/internal/log/live"
	"github.com/auditgraph/auditgraph/internal/log/verify"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/loaders"
)

//go:generate go run ../tools/gqlgen

// Resolver holds what every resolver needs: the services, each of which
// checks what the caller may do before it reads or changes anything.
type Resolver struct {
	Identity *identity.Service
	// Rules manages alert rules.
	Rules *rules.Service
	// Stats reads the activity panels.
	Stats *activity.Stats
	// AuditLog reads organizations' audit logs.
	AuditLog *auditlog.Reader
	// Loaders returns the request's dataloaders, which load the rows that
	// fields of an object already authorized refer to (a member's user, a
	// team's organization).
	Loaders func(context.Context) *loaders.Loaders
	Mode    deployment.Mode
	Log     *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Live feeds the auditEvents subscription; nil turns subscriptions off.
	Live *live.Hub
	// Secrets seals and opens stored secrets; nil when the server runs
	// without the instance key.
	Secrets *secretbox.Box
	// Connect registers the Slack app and connects integrations.
	Connect *connect.Service
	// Verify answers verifyAuditLog; nil turns it off.
	Verify *verify.Service

	// verifying holds the IDs of the organizations whose audit log is being
	// verified: one verification per organization at a time.
	verifying sync.Map
}
