package identity

import (
	"context"
	"errors"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
)

// NewUser describes a user to create and, usually, the organization to add
// them to.
type NewUser struct {
	Username      string
	Name          string
	Email         string
	InstanceAdmin bool
	// Org names the organization; empty means the instance's own
	// organization in self-managed and dedicated mode, and none in multi-tenant.
	Org         string
	Role        string
	ModelsSeat  string
	WeaveAccess string
}

// CreateUser creates a user, already a member of an organization. Instance
// admins may create any user; an org admin may create users in their org.
func (s *Service) CreateUser(ctx context.Context, actor *auth.Principal, nu NewUser) (entity.User, error) {
	var u entity.User
	if err := CheckName("username", nu.Username); err != nil {
		return u, err
	}
	if nu.Email != "" {
		if err := checkEmail(nu.Email); err != nil {
			return u, err
		}
	}
	m, err := newMembership(nu.Role, nu.ModelsSeat, nu.WeaveAccess)
	if err != nil {
		return u, err
	}
	if nu.InstanceAdmin {
		if err := requireInstanceAdmin(actor, "create instance admins"); err != nil {
			return u, err
		}
	}
	err = s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) error {
		var org *entity.Organization
		if nu.Org != "" {
			o, err := access.AdminOrg(ctx, tx, actor.User, nu.Org)
			if err != nil {
				return err
			}
			org = &o
		} else if org, err = s.targetOrg(ctx, tx, ""); err != nil {
			return err
		}
		if org == nil {
			if err := requireInstanceAdmin(actor, "create users outside an organization"); err != nil {
				return err
			}
		} else if err := access.RequireOrgAdmin(ctx, tx, actor.User, *org); err != nil {
			return err
		}
		u, err = tx.CreateUser(ctx, storage.NewUser{Username: nu.Username, Name: nu.Name, Email: nu.Email, InstanceAdmin: nu.InstanceAdmin})
		if err != nil {
			return conflict(err, "username %q or email %q is taken", nu.Username, nu.Email)
		}
		if org == nil {
			return nil
		}
		m.OrgID, m.UserID = org.ID, u.ID
		if _, err := tx.AddMembership(ctx, m); err != nil {
			return err
		}
		rec.add(org.ID, userEvent(audit.UserCreate, u))
		return nil
	})
	return u, err
}

// targetOrg resolves an organization named in a request; an empty name means
// the instance's own organization, or nil where the mode has none.
func (s *Service) targetOrg(ctx context.Context, tx *storage.Tx, name string) (*entity.Organization, error) {
	if name == "" {
		if !s.mode.HasInstanceOrg() {
			return nil, nil
		}
		org, err := s.instanceOrg(ctx, tx)
		if errors.Is(err, fault.ErrNotFound) {
			return nil, nil
		}
		return &org, err
	}
	org, err := tx.OrganizationByName(ctx, name)
	if err != nil {
		return nil, err
	}
	return &org, nil
}

func newMembership(role, seat, weave string) (storage.NewMembership, error) {
	m := storage.NewMembership{
		Role:        orDefault(role, access.RoleMember),
		ModelsSeat:  orDefault(seat, "full"),
		WeaveAccess: orDefault(weave, "full"),
	}
	if err := checkOneOf("role", m.Role, Roles); err != nil {
		return m, err
	}
	if err := checkOneOf("models seat", m.ModelsSeat, SeatLevels); err != nil {
		return m, err
	}
	return m, checkOneOf("weave access", m.WeaveAccess, SeatLevels)
}

// User returns the user called username if actor may see them: themselves,
// anyone for an instance admin, and members of their orgs for an org admin.
// Reading a profile is audited (user:read), in the same transaction.
func (s *Service) User(ctx context.Context, actor *auth.Principal, username string) (entity.User, error) {
	var u entity.User
	err := s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) (err error) {
		if u, err = s.managedUser(ctx, tx, actor, username, false); err != nil {
			return err
		}
		return s.recordUser(ctx, tx, rec, audit.UserRead, u)
	})
	return u, err
}

// managedUser returns the user called username after checking that actor
// may act on them (see canManage). Someone who is not an instance admin is
// refused a missing user exactly as one they may not manage, so that a
// refusal does not tell them which usernames exist.
func (s *Service) managedUser(ctx context.Context, tx *storage.Tx, actor *auth.Principal, username string, all bool) (entity.User, error) {
	u, err := tx.UserByUsername(ctx, username)
	if errors.Is(err, fault.ErrNotFound) {
		if !actor.User.InstanceAdmin {
			return u, mayNotManage(actor, username)
		}
		return u, fault.Wrap(fault.ErrNotFound, err, "no user called %q", username)
	}
	if err != nil {
		return u, err
	}
	return u, s.canManage(ctx, tx, actor, u, all)
}

func mayNotManage(actor *auth.Principal, username string) error {
	return access.Forbidden("%s may not manage user %s", actor.User.Username, username)
}

// canManage checks that actor may act on u: u themselves (when self is
// allowed), an instance admin, or an admin of an organization u belongs to.
// With all set, actor must administer every organization u belongs to, so
// that one org's admin cannot lock a user out of another org.
func (s *Service) canManage(ctx context.Context, r access.Reader, actor *auth.Principal, u entity.User, all bool) error {
	if actor.User.InstanceAdmin || (actor.User.ID == u.ID && !all) {
		return nil
	}
	if u.InstanceAdmin {
		// Refused as any other user is, so that the refusal does not say
		// who the instance admins are.
		return mayNotManage(actor, u.Username)
	}
	ms, err := r.UserMemberships(ctx, u.ID)
	if err != nil {
		return err
	}
	admins := 0
	for _, m := range ms {
		ok, err := access.IsOrgAdmin(ctx, r, actor.User, m.OrgID)
		if err != nil {
			return err
		}
		if ok {
			admins++
		}
	}
	if admins == 0 || (all && admins < len(ms)) {
		return mayNotManage(actor, u.Username)
	}
	return nil
}

// UserUpdate holds profile changes; nil leaves a field as it is.
type UserUpdate = storage.UserUpdate

// UpdateUser changes a user's name or email: the user, or someone who
// manages them.
func (s *Service) UpdateUser(ctx context.Context, actor *auth.Principal, username string, up UserUpdate) (entity.User, error) {
	var u entity.User
	if up.Email != nil && *up.Email != "" {
		if err := checkEmail(*up.Email); err != nil {
			return u, err
		}
	}
	err := s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) error {
		old, err := s.managedUser(ctx, tx, actor, username, false)
		if err != nil {
			return err
		}
		if u, err = tx.UpdateUser(ctx, old.ID, up); err != nil {
			return err
		}
		return s.recordUser(ctx, tx, rec, audit.UserUpdate, u)
	})
	return u, err
}

// recordUser records an event about u in every organization log concerned.
func (s *Service) recordUser(ctx context.Context, tx *storage.Tx, rec *recorder, a audit.Action, u entity.User) error {
	orgs, err := s.userOrgs(ctx, tx, u)
	if err != nil {
		return err
	}
	for _, o := range orgs {
		rec.add(o, userEvent(a, u))
	}
	return nil
}

// DeactivateUser revokes a user's access; their API keys stop working at once.
func (s *Service) DeactivateUser(ctx context.Context, actor *auth.Principal, username string) (entity.User, error) {
	return s.setDeactivated(ctx, actor, username, true)
}

// ReactivateUser restores a deactivated user's access.
func (s *Service) ReactivateUser(ctx context.Context, actor *auth.Principal, username string) (entity.User, error) {
	return s.setDeactivated(ctx, actor, username, false)
}

func (s *Service) setDeactivated(ctx context.Context, actor *auth.Principal, username string, deactivate bool) (entity.User, error) {
	var u entity.User
	err := s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) error {
		old, err := s.managedUser(ctx, tx, actor, username, true)
		if err != nil {
			return err
		}
		if old.ID == actor.User.ID && deactivate {
			return invalid("you cannot deactivate yourself")
		}
		if old.Deactivated() == deactivate {
			state := "active"
			if deactivate {
				state = "deactivated"
			}
			return invalid("user %s is already %s", username, state)
		}
		var at *time.Time
		action := audit.UserReactivate
		if deactivate {
			now := rec.now
			at, action = &now, audit.UserDeactivate
		}
		if u, err = tx.SetUserDeactivated(ctx, old.ID, at); err != nil {
			return err
		}
		return s.recordUser(ctx, tx, rec, action, u)
	})
	return u, err
}

// DeleteUser permanently removes a user with their memberships and keys. The
// audit events about them stay.
func (s *Service) DeleteUser(ctx context.Context, actor *auth.Principal, username string) error {
	return s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) error {
		u, err := s.managedUser(ctx, tx, actor, username, true)
		if err != nil {
			return err
		}
		if u.ID == actor.User.ID {
			return invalid("you cannot delete yourself")
		}
		if err := s.recordUser(ctx, tx, rec, audit.UserPermanentlyDelete, u); err != nil {
			return err
		}
		return tx.DeleteUser(ctx, u.ID)
	})
}

// SetDefaultOrganization sets the organization org-scoped APIs act on for the
// actor when they belong to several; an empty name clears it.
func (s *Service) SetDefaultOrganization(ctx context.Context, actor *auth.Principal, orgName string) (entity.User, error) {
	var u entity.User
	err := s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) error {
		var orgID *int64
		if orgName != "" {
			org, err := tx.OrganizationByName(ctx, orgName)
			if errors.Is(err, fault.ErrNotFound) {
				// Refused as an organization the actor is not in.
				return access.Forbidden("%s is not a member of organization %q", actor.User.Username, orgName)
			}
			if err != nil {
				return err
			}
			role, err := access.Role(ctx, tx, actor.User, org.ID)
			if err != nil {
				return err
			}
			if role == "" {
				return access.Forbidden("%s is not a member of organization %q", actor.User.Username, orgName)
			}
			orgID = &org.ID
		}
		var err error
		if u, err = tx.SetDefaultOrg(ctx, actor.User.ID, orgID); err != nil {
			return err
		}
		return s.recordUser(ctx, tx, rec, audit.UserUpdate, u)
	})
	return u, err
}
