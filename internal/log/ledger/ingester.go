package ledger

import (
	"context"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/storage"
)

// Ingester stores reported batches of audit events for the callers who may
// report them (POST /api/v1/audit_events): it checks before it stores.
type Ingester struct{ store *storage.Store }

// NewIngester returns an Ingester over store.
func NewIngester(store *storage.Store) *Ingester { return &Ingester{store: store} }

// Authorize checks that actor may report audit events to org: its admins,
// instance admins and the organization's service accounts
// (access.RequireIngester). The REST handler asks it before it reads the
// batch, so that a caller without rights is refused without sending it.
func (i *Ingester) Authorize(ctx context.Context, actor entity.User, org entity.Organization) error {
	return access.RequireIngester(ctx, i.store, actor, org)
}

// Ingest checks that actor may report to org, then stores the batch in
// org's log as Ingest does.
func (i *Ingester) Ingest(ctx context.Context, actor entity.User, org entity.Organization, events []IngestEvent, activeSince time.Time) (IngestResult, error) {
	if err := i.Authorize(ctx, actor, org); err != nil {
		return IngestResult{}, err
	}
	return Ingest(ctx, i.store, org.ID, events, activeSince)
}
