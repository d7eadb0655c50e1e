package ledger

import (
	"context"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/storage"
)

// Ingester stores reported batches of audit events for the callers who may
// report them (POST /api/v1/audit_events): it checks before it stores. It
// commits concurrent batches for one organization in groups (see groups):
// a server uses one Ingester for all its requests.
type Ingester struct {
	store  *storage.Store
	groups *groups
}

// NewIngester returns an Ingester over store.
func NewIngester(store *storage.Store) *Ingester {
	return &Ingester{store: store, groups: newGroups(store)}
}

// Transactions returns how many transactions the Ingester has run for how
// many batches (their ratio is the mean group size).
func (i *Ingester) Transactions() (transactions, batches int64) {
	return i.groups.transactions.Load(), i.groups.batches.Load()
}

// Authorize checks that actor may report audit events to org: its admins,
// instance admins and the organization's service accounts
// (access.RequireIngester). The REST handler asks it before it reads the
// batch, so that a caller without rights is refused without sending it.
func (i *Ingester) Authorize(ctx context.Context, actor entity.User, org entity.Organization) error {
	return access.RequireIngester(ctx, i.store, actor, org)
}

// Ingest checks that actor may report to org, then stores the batch in
// org's log as Ingest does, in one transaction with the batches for org that
// arrive while another transaction of org's runs (group commit). It returns
// once the transaction holding the batch's events has committed, with the
// batch's own counts; a duplicate is an event whose client id the log has
// seen before, in an earlier transaction or earlier in this one (from this
// batch or another batch of its group).
func (i *Ingester) Ingest(ctx context.Context, actor entity.User, org entity.Organization, events []IngestEvent, activeSince time.Time) (IngestResult, error) {
	if err := i.Authorize(ctx, actor, org); err != nil {
		return IngestResult{}, err
	}
	return i.groups.ingest(ctx, org.ID, events, activeSince)
}
