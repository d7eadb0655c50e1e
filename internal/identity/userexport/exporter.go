package userexport

import (
	"context"
	"io"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/storage"
)

// Exporter writes an organization's users file for its admins and instance
// admins, checking before it reads anything.
type Exporter struct {
	store *storage.Store
	mode  deployment.Mode
}

// NewExporter returns an Exporter over store for a server running in mode.
func NewExporter(store *storage.Store, mode deployment.Mode) *Exporter {
	return &Exporter{store: store, mode: mode}
}

// Authorize checks that actor may export org's users.
func (x *Exporter) Authorize(ctx context.Context, actor entity.User, org entity.Organization) error {
	return access.RequireOrgAdmin(ctx, x.store, actor, org)
}

// Write streams org's users file to w (see the package's Write).
func (x *Exporter) Write(ctx context.Context, w io.Writer, actor entity.User, org entity.Organization, now time.Time) error {
	if err := x.Authorize(ctx, actor, org); err != nil {
		return err
	}
	// The file may be a moment behind: the standby reads it, if any.
	return Write(entity.ReadStandby(ctx), w, x.store, x.mode, org.ID, now)
}
