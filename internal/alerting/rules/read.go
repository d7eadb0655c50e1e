package rules

import (
	"context"
	"fmt"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
)

// The rows this service reads and returns, under the names its callers use.
type (
	AlertRule   = entity.AlertRule
	OutboxAlert = entity.OutboxAlert
)

// List returns up to limit of org's alert rules after afterID, and how many
// it has. The organization's admins and instance admins only.
func (s *Service) List(ctx context.Context, actor *auth.Principal, org entity.Organization, afterID int64, limit int) ([]AlertRule, int, error) {
	if err := access.RequireOrgAdmin(ctx, s.store, actor.User, org); err != nil {
		return nil, 0, err
	}
	rows, err := s.store.OrgAlertRules(ctx, org.ID, afterID, limit)
	if err != nil {
		return nil, 0, err
	}
	n, err := s.store.CountOrgAlertRules(ctx, org.ID)
	return rows, n, err
}

// Integrations returns the integrations rule r delivers to, for an admin
// of its organization.
func (s *Service) Integrations(ctx context.Context, actor *auth.Principal, r AlertRule) ([]entity.Integration, error) {
	if err := access.RequireOwnerAdmin(ctx, s.store, actor.User, r.OrgID, nil, fmt.Sprintf("alert rule %d", r.ID)); err != nil {
		return nil, err
	}
	out := make([]entity.Integration, 0, len(r.Integrations))
	for _, id := range r.Integrations {
		in, err := s.store.Integration(ctx, id)
		if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}
