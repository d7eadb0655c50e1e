package identity

import (
	"context"
	"errors"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
)

// CreateTeam creates a team in an organization (org admins).
func (s *Service) CreateTeam(ctx context.Context, actor *auth.Principal, orgName, name string) (entity.Team, error) {
	var t entity.Team
	if err := CheckName("team name", name); err != nil {
		return t, err
	}
	err := s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) error {
		org, err := s.namedOrg(ctx, tx, actor, orgName)
		if err != nil {
			return err
		}
		if t, err = tx.CreateTeam(ctx, org.ID, name); err != nil {
			return conflict(err, "organization %s has a team called %s already", org.Name, name)
		}
		rec.add(org.ID, teamEvent(audit.TeamCreate, t))
		return nil
	})
	return t, err
}

// team returns an organization's team after checking that actor administers
// the organization.
func (s *Service) team(ctx context.Context, tx *storage.Tx, actor *auth.Principal, orgName, team string) (entity.Team, error) {
	org, err := s.namedOrg(ctx, tx, actor, orgName)
	if err != nil {
		return entity.Team{}, err
	}
	t, err := tx.TeamByName(ctx, org.ID, team)
	if errors.Is(err, fault.ErrNotFound) {
		return t, fault.Wrap(fault.ErrNotFound, err, "organization %s has no team called %s", org.Name, team)
	}
	return t, err
}

// userByName returns the user called name; the caller has already checked
// that the actor may look users up.
func userByName(ctx context.Context, tx *storage.Tx, name string) (entity.User, error) {
	u, err := tx.UserByUsername(ctx, name)
	if errors.Is(err, fault.ErrNotFound) {
		return u, fault.Wrap(fault.ErrNotFound, err, "no user called %s", name)
	}
	return u, err
}

// DeleteTeam deletes a team with its service accounts (team:delete, and
// user:permanently_delete for each service account).
func (s *Service) DeleteTeam(ctx context.Context, actor *auth.Principal, orgName, team string) error {
	return s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) error {
		t, err := s.team(ctx, tx, actor, orgName, team)
		if err != nil {
			return err
		}
		accounts, err := tx.DeleteTeam(ctx, t.ID)
		if err != nil {
			return err
		}
		rec.add(t.OrgID, teamEvent(audit.TeamDelete, t))
		// The team's service accounts go with it; each removal is recorded.
		for _, a := range accounts {
			rec.add(t.OrgID, audit.Event{Action: audit.UserPermanentlyDelete, UserAsset: id(a)})
		}
		return nil
	})
}

// AddTeamMember adds a member of the organization to one of its teams and
// returns the team.
func (s *Service) AddTeamMember(ctx context.Context, actor *auth.Principal, orgName, team, username string) (entity.Team, error) {
	var t entity.Team
	err := s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) (err error) {
		t, err = s.team(ctx, tx, actor, orgName, team)
		if err != nil {
			return err
		}
		u, err := userByName(ctx, tx, username)
		if err != nil {
			return err
		}
		if _, err := tx.Membership(ctx, t.OrgID, u.ID); errors.Is(err, fault.ErrNotFound) {
			return invalid("%s is not a member of organization %s", username, orgName)
		} else if err != nil {
			return err
		}
		if u.IsServiceAccount() {
			return invalid("service account %s belongs to its own team only", username)
		}
		if _, err = tx.AddTeamMember(ctx, t.ID, u.ID); err != nil {
			return conflict(err, "%s is in team %s already", username, team)
		}
		e := teamEvent(audit.TeamInviteUser, t)
		e.UserAsset, e.UserEmail = id(u.ID), u.Email
		rec.add(t.OrgID, e)
		return nil
	})
	return t, err
}

// RemoveTeamMember takes a user out of a team and returns the team.
func (s *Service) RemoveTeamMember(ctx context.Context, actor *auth.Principal, orgName, team, username string) (entity.Team, error) {
	var t entity.Team
	err := s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) (err error) {
		t, err = s.team(ctx, tx, actor, orgName, team)
		if err != nil {
			return err
		}
		u, err := userByName(ctx, tx, username)
		if err != nil {
			return err
		}
		if u.ServiceAccountTeam != nil && *u.ServiceAccountTeam == t.ID {
			return invalid("%s is the team's service account: delete it instead", username)
		}
		if err := tx.RemoveTeamMember(ctx, t.ID, u.ID); err != nil {
			return err
		}
		e := teamEvent(audit.TeamUninvite, t)
		e.UserAsset, e.UserEmail = id(u.ID), u.Email
		rec.add(t.OrgID, e)
		return nil
	})
	return t, err
}

// CreateServiceAccount creates a service account in a team: a non-human user
// that belongs to that team, and so to exactly one organization.
func (s *Service) CreateServiceAccount(ctx context.Context, actor *auth.Principal, orgName, team, username, name string) (entity.User, error) {
	var u entity.User
	if err := CheckName("username", username); err != nil {
		return u, err
	}
	err := s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) error {
		t, err := s.team(ctx, tx, actor, orgName, team)
		if err != nil {
			return err
		}
		u, err = tx.CreateUser(ctx, storage.NewUser{Username: username, Name: name, ServiceAccountTeam: &t.ID})
		if err != nil {
			return err
		}
		if _, err := tx.AddMembership(ctx, storage.NewMembership{OrgID: t.OrgID, UserID: u.ID,
			Role: access.RoleMember, ModelsSeat: "full", WeaveAccess: "full"}); err != nil {
			return err
		}
		if _, err := tx.AddTeamMember(ctx, t.ID, u.ID); err != nil {
			return err
		}
		e := teamEvent(audit.TeamCreateServiceAccount, t)
		e.UserAsset = id(u.ID)
		rec.add(t.OrgID, e)
		return nil
	})
	if errors.Is(err, fault.ErrConflict) {
		err = fault.Wrap(fault.ErrConflict, err, "username %q is taken", username)
	}
	return u, err
}
