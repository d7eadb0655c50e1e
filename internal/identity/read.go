package identity

import (
	"context"
	"errors"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
)

// The rows this service reads and returns, under the names its callers use,
// so that the transports need not import storage.
type (
	User          = entity.User
	Organization  = entity.Organization
	Membership    = entity.Membership
	Team          = entity.Team
	TeamMember    = storage.TeamMember
	APIKey        = entity.APIKey
	MemberKey     = storage.MemberKey
	OrgUsersQuery = storage.OrgUsersQuery
	OrgUsersPage  = storage.OrgUsersPage
	UserSort      = storage.UserSort
)

// The kinds of failure the service's callers tell apart.
var (
	ErrNotFound  = fault.ErrNotFound
	ErrForbidden = access.ErrForbidden
)

// Sort orders of an organization's users.
const SortLastActive = storage.SortLastActive

// Each read below checks that the actor may see what it asks for before it
// reads anything.

// Viewer returns the actor's own user as stored now.
func (s *Service) Viewer(ctx context.Context, actor *auth.Principal) (User, error) {
	return s.store.User(ctx, actor.User.ID)
}

// ViewerRole returns the actor's role in org, or "" when they are not an
// accepted member.
func (s *Service) ViewerRole(ctx context.Context, actor *auth.Principal, org Organization) (string, error) {
	return access.Role(ctx, s.store, actor.User, org.ID)
}

// OrgUsers returns a page of org's users (members and pending invitations).
// Its members may ask; an organization's admins see everyone, other members
// only themselves. team, when not nil, keeps the members of that team.
func (s *Service) OrgUsers(ctx context.Context, actor *auth.Principal, org Organization, q OrgUsersQuery, team *string) (OrgUsersPage, error) {
	if err := access.RequireMember(ctx, s.store, actor.User, org); err != nil {
		return OrgUsersPage{}, err
	}
	admin, err := access.IsOrgAdmin(ctx, s.store, actor.User, org.ID)
	if err != nil {
		return OrgUsersPage{}, err
	}
	q.OrgID = org.ID
	if !admin {
		q.OnlyUserID = &actor.User.ID
	}
	if team != nil {
		t, err := s.store.TeamByName(ctx, org.ID, *team)
		if err != nil {
			return OrgUsersPage{}, notFound(err, "organization %s has no team called %s", org.Name, *team)
		}
		q.TeamID = &t.ID
	}
	// The list may be a moment behind: the standby reads it, if any.
	return s.store.OrgUsers(entity.ReadStandby(ctx), q)
}

// Teams returns up to limit of org's teams after afterID, and how many it
// has. Its members may ask.
func (s *Service) Teams(ctx context.Context, actor *auth.Principal, org Organization, afterID int64, limit int) ([]Team, int, error) {
	if err := access.RequireMember(ctx, s.store, actor.User, org); err != nil {
		return nil, 0, err
	}
	teams, err := s.store.OrgTeams(ctx, org.ID, afterID, limit)
	if err != nil {
		return nil, 0, err
	}
	n, err := s.store.CountOrgTeams(ctx, org.ID)
	return teams, n, err
}

// TeamMembers returns up to limit of t's members after the member afterID,
// as users, and how many it has. Members of t's organization may ask.
func (s *Service) TeamMembers(ctx context.Context, actor *auth.Principal, t Team, afterID int64, limit int) ([]User, int, error) {
	if err := s.requireMemberOf(ctx, actor, t.OrgID); err != nil {
		return nil, 0, err
	}
	rows, err := s.store.TeamMembers(ctx, t.ID, afterID, limit)
	if err != nil {
		return nil, 0, err
	}
	total, err := s.store.CountTeamMembers(ctx, t.ID)
	if err != nil {
		return nil, 0, err
	}
	ids := make([]int64, len(rows))
	for i, m := range rows {
		ids[i] = m.UserID
	}
	users, err := s.store.UsersByID(ctx, ids)
	return users, total, err
}

// ServiceAccountTeam returns the team of service account u, or nil for a
// person. Members of the team's organization may ask.
func (s *Service) ServiceAccountTeam(ctx context.Context, actor *auth.Principal, u User) (*Team, error) {
	if u.ServiceAccountTeam == nil {
		return nil, nil
	}
	// A service account belongs to its team's organization only.
	ms, err := s.store.UserMemberships(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, m := range ms {
		if err := s.requireMemberOf(ctx, actor, m.OrgID); err != nil {
			return nil, err
		}
	}
	t, err := s.store.Team(ctx, *u.ServiceAccountTeam)
	return &t, err
}

// requireMemberOf checks that actor is an instance admin or an accepted
// member of the organization orgID.
func (s *Service) requireMemberOf(ctx context.Context, actor *auth.Principal, orgID int64) error {
	if actor.User.InstanceAdmin {
		return nil
	}
	role, err := access.Role(ctx, s.store, actor.User, orgID)
	if err != nil {
		return err
	}
	if role == "" {
		return access.Forbidden("%s is not a member of the team's organization", actor.User.Username)
	}
	return nil
}

// conflict gives a refused duplicate its public message; other errors pass.
func conflict(err error, format string, args ...any) error {
	if errors.Is(err, fault.ErrConflict) {
		return fault.Wrap(fault.ErrConflict, err, format, args...)
	}
	return err
}

// notFound gives a missing row its public message; other errors pass.
func notFound(err error, format string, args ...any) error {
	if errors.Is(err, fault.ErrNotFound) {
		return fault.Wrap(fault.ErrNotFound, err, format, args...)
	}
	return err
}

// VisibleMemberships keeps those of u's memberships ms that actor may see:
// all of them for an instance admin and for u themselves, else those of the
// organizations actor is a member of, so that one organization's admin
// does not learn which other organizations a user belongs to.
func (s *Service) VisibleMemberships(ctx context.Context, actor *auth.Principal, u User, ms []Membership) ([]Membership, error) {
	if actor.User.InstanceAdmin || actor.User.ID == u.ID {
		return ms, nil
	}
	out := []Membership{}
	for _, m := range ms {
		role, err := access.Role(ctx, s.store, actor.User, m.OrgID)
		if err != nil {
			return nil, err
		}
		if role != "" {
			out = append(out, m)
		}
	}
	return out, nil
}

// VisibleDefaultOrg reports whether actor may see u's default API
// organization orgID: an instance admin, u themselves, or a member of it.
func (s *Service) VisibleDefaultOrg(ctx context.Context, actor *auth.Principal, u User, orgID int64) (bool, error) {
	if actor.User.InstanceAdmin || actor.User.ID == u.ID {
		return true, nil
	}
	role, err := access.Role(ctx, s.store, actor.User, orgID)
	return role != "", err
}
