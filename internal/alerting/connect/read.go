package connect

import (
	"context"
	"errors"
	"fmt"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
)

// The rows this service reads and returns, under the names its callers use.
type (
	Integration   = entity.Integration
	ConfigChange  = entity.ConfigChange
	DeliveryStats = entity.DeliveryStats
	OutboxAlert   = entity.OutboxAlert
)

// AlertPending is the status of an alert still to be delivered.
const AlertPending = entity.AlertPending

// Each read below checks that the actor may see what it asks for before it
// reads anything.

// Integrations returns up to limit of org's integrations after afterID, and
// how many it has. The organization's admins and instance admins only.
func (s *Service) Integrations(ctx context.Context, actor entity.User, org entity.Organization, afterID int64, limit int) ([]Integration, int, error) {
	if err := access.RequireOrgAdmin(ctx, s.cfg.Store, actor, org); err != nil {
		return nil, 0, err
	}
	rows, err := s.cfg.Store.OrgIntegrations(ctx, org.ID, afterID, limit)
	if err != nil {
		return nil, 0, err
	}
	n, err := s.cfg.Store.CountOrgIntegrations(ctx, org.ID)
	return rows, n, err
}

// Integration returns the integration id, for an admin of its organization.
func (s *Service) Integration(ctx context.Context, actor entity.User, id int64) (Integration, error) {
	in, err := s.cfg.Store.Integration(ctx, id)
	if err := access.RequireOwnerAdmin(ctx, s.cfg.Store, actor, in.OrgID, err, fmt.Sprintf("integration %d", id)); err != nil {
		return Integration{}, err
	}
	return in, nil
}

// Visible returns the integration id to those who may list it
// (Integrations: instance admins and its organization's admins). To anyone
// else, and for an id no integration has, it is the same ErrNotFound, so
// that nobody learns which ids exist in other organizations.
func (s *Service) Visible(ctx context.Context, actor entity.User, id int64) (Integration, error) {
	hidden := fault.New(fault.ErrNotFound, "no integration %d", id)
	in, err := s.cfg.Store.Integration(ctx, id)
	switch {
	case errors.Is(err, fault.ErrNotFound):
		return Integration{}, hidden
	case err != nil:
		return Integration{}, err
	}
	ok, err := access.IsOrgAdmin(ctx, s.cfg.Store, actor, in.OrgID)
	if err != nil {
		return Integration{}, err
	}
	if !ok {
		return Integration{}, hidden
	}
	return in, nil
}

// Delivery returns how in's alerts have been delivered, for an admin of its
// organization.
func (s *Service) Delivery(ctx context.Context, actor entity.User, in Integration) (DeliveryStats, error) {
	if err := access.RequireOwnerAdmin(ctx, s.cfg.Store, actor, in.OrgID, nil, fmt.Sprintf("integration %d", in.ID)); err != nil {
		return DeliveryStats{}, err
	}
	return s.cfg.Store.IntegrationDelivery(ctx, in.ID)
}

// Deliveries returns up to limit of the alerts of integration id before the
// alert before (0: the newest), newest first, for an admin of its
// organization.
func (s *Service) Deliveries(ctx context.Context, actor entity.User, id, before int64, limit int) ([]OutboxAlert, error) {
	if _, err := s.Integration(ctx, actor, id); err != nil {
		return nil, err
	}
	return s.cfg.Store.IntegrationDeliveries(ctx, id, before, limit)
}

// ConfigChanges returns up to limit of org's configuration changes before
// the change beforeID (0: the newest), newest first, and how many there
// are: org's admins may ask. With org nil they are the instance's own
// changes, for instance admins.
func (s *Service) ConfigChanges(ctx context.Context, actor entity.User, org *entity.Organization, beforeID int64, limit int) ([]ConfigChange, int, error) {
	var orgID *int64
	if org == nil {
		if !actor.InstanceAdmin {
			return nil, 0, access.Forbidden("%s is not an instance admin", actor.Username)
		}
	} else {
		if err := access.RequireOrgAdmin(ctx, s.cfg.Store, actor, *org); err != nil {
			return nil, 0, err
		}
		orgID = &org.ID
	}
	rows, err := s.cfg.Store.ConfigChanges(ctx, orgID, beforeID, limit)
	if err != nil {
		return nil, 0, err
	}
	n, err := s.cfg.Store.CountConfigChanges(ctx, orgID)
	return rows, n, err
}
