package activity

import (
	"context"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/storage"
)

// The rows the dashboard's panels read, under the names their callers use.
type (
	DayCount     = storage.DayCount
	UserActivity = storage.UserActivity
)

// Stats reads the activity panels of an organization for its admins and
// instance admins. Each read checks that the actor may see the organization's
// activity before it reads anything.
type Stats struct{ store *storage.Store }

// NewStats returns the panels' reader over store.
func NewStats(store *storage.Store) *Stats { return &Stats{store: store} }

// Authorize checks that actor may read org's activity.
func (s *Stats) Authorize(ctx context.Context, actor entity.User, org entity.Organization) error {
	return access.RequireOrgAdmin(ctx, s.store, actor, org)
}

func (s *Stats) authorize(ctx context.Context, actor entity.User, orgID int64) error {
	if actor.InstanceAdmin {
		return nil
	}
	// The request's memo has the organization when the query reached the
	// panel through organization(name): no second read.
	org, err := access.Organization(ctx, s.store, orgID)
	if err != nil {
		return err
	}
	return s.Authorize(ctx, actor, org)
}

// FirstDay returns the organization's first day with activity.
func (s *Stats) FirstDay(ctx context.Context, actor entity.User, orgID int64) (time.Time, error) {
	if err := s.authorize(ctx, actor, orgID); err != nil {
		return time.Time{}, err
	}
	return s.store.FirstActivityDay(entity.ReadStandby(ctx), orgID)
}

// ActiveUsers counts the users active in [from, to).
func (s *Stats) ActiveUsers(ctx context.Context, actor entity.User, orgID int64, from, to time.Time) (int, error) {
	if err := s.authorize(ctx, actor, orgID); err != nil {
		return 0, err
	}
	return s.store.ActiveUsers(entity.ReadStandby(ctx), orgID, from, to)
}

// Daily returns the users active on each day of [from, to).
func (s *Stats) Daily(ctx context.Context, actor entity.User, orgID int64, from, to time.Time) ([]DayCount, error) {
	if err := s.authorize(ctx, actor, orgID); err != nil {
		return nil, err
	}
	return s.store.DailyActiveUsers(entity.ReadStandby(ctx), orgID, from, to)
}

// Weekly returns the users active in each week of [from, to).
func (s *Stats) Weekly(ctx context.Context, actor entity.User, orgID int64, from, to time.Time) ([]DayCount, error) {
	if err := s.authorize(ctx, actor, orgID); err != nil {
		return nil, err
	}
	return s.store.WeeklyActiveUsers(entity.ReadStandby(ctx), orgID, from, to)
}

// MostActive returns up to limit of the users most active in [from, to).
func (s *Stats) MostActive(ctx context.Context, actor entity.User, orgID int64, from, to time.Time, limit int) ([]UserActivity, error) {
	if err := s.authorize(ctx, actor, orgID); err != nil {
		return nil, err
	}
	return s.store.MostActiveUsers(entity.ReadStandby(ctx), orgID, from, to, limit)
}
