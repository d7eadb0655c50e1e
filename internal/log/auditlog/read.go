package auditlog

import (
	"context"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/storage"
)

// The rows and queries of the audit log, under the names its callers use.
type (
	StoredEvent = storage.StoredEvent
	EventFilter = storage.EventFilter
	Page        = storage.Page
)

// Reader reads an organization's audit log for those who may: its admins
// and instance admins; in multi-tenant mode only the organization's own
// admins, on the Enterprise plan (access.RequireAuditReader). Each read
// checks before it reads anything.
type Reader struct {
	store       *storage.Store
	multiTenant bool
}

// NewReader returns a Reader over store for a server running in mode.
func NewReader(store *storage.Store, mode deployment.Mode) *Reader {
	return &Reader{store: store, multiTenant: mode.MultiTenant()}
}

// Authorize checks that actor may read org's audit log (the live feed asks
// once, before it subscribes).
func (r *Reader) Authorize(ctx context.Context, actor entity.User, org entity.Organization) error {
	return access.RequireAuditReader(ctx, r.store, r.multiTenant, actor, org)
}

// Events returns a page of org's events matching f, their cursors, and
// whether more follow.
func (r *Reader) Events(ctx context.Context, actor entity.User, org entity.Organization, f EventFilter) ([]StoredEvent, []string, bool, error) {
	if err := r.Authorize(ctx, actor, org); err != nil {
		return nil, nil, false, err
	}
	f.OrgID = org.ID
	return r.store.Events(standbyFor(ctx, f.End), f)
}

// Page returns a page of org's events stored in [start, end), as the REST
// API's paginated answer writes them.
func (r *Reader) Page(ctx context.Context, actor entity.User, org entity.Organization, start, end time.Time, limit int, cursor string, anonymize bool) (Page, error) {
	if err := r.Authorize(ctx, actor, org); err != nil {
		return Page{}, err
	}
	return r.store.EventsPage(standbyFor(ctx, end), org.ID, start, end, limit, cursor, anonymize)
}

// Stream hands fn each of org's events in [start, end) as a JSON line.
func (r *Reader) Stream(ctx context.Context, actor entity.User, org entity.Organization, start, end time.Time, anonymize bool, fn func([]byte) error) error {
	if err := r.Authorize(ctx, actor, org); err != nil {
		return err
	}
	return r.store.StreamEvents(standbyFor(ctx, end), org.ID, start, end, anonymize, fn)
}

// standbyFor lets a read of a window that has ended go to the standby
// (serve --read-database-url), once the caller's rights are checked. A
// window that ends in the future may hold events stored a moment ago: the
// primary has them first. (A walk through REST pages stays exact either way:
// storage.EventsPage makes the standby replay up to the walk's snapshot.)
func standbyFor(ctx context.Context, end time.Time) context.Context {
	if end.After(time.Now()) {
		return ctx
	}
	return entity.ReadStandby(ctx)
}
