package identity

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
)

// Invitation describes whom to invite to an organization and with what access.
type Invitation struct {
	Org   string
	Email string
	// Username is used when the email belongs to no user yet; empty derives
	// one from the email's local part.
	Username    string
	Role        string
	ModelsSeat  string
	WeaveAccess string
}

// InviteUser invites someone to an organization by email. The membership
// stays pending (status INVITE_PENDING) until the user accepts. A new email
// gets a user record as part of the invitation, recorded by the one
// team:invite_user event.
func (s *Service) InviteUser(ctx context.Context, actor *auth.Principal, inv Invitation) (entity.User, entity.Membership, error) {
	var (
		u entity.User
		m entity.Membership
	)
	if err := checkEmail(inv.Email); err != nil {
		return u, m, err
	}
	if inv.Username != "" {
		if err := CheckName("username", inv.Username); err != nil {
			return u, m, err
		}
	}
	nm, err := newMembership(inv.Role, inv.ModelsSeat, inv.WeaveAccess)
	if err != nil {
		return u, m, err
	}
	err = s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) error {
		org, err := s.namedOrg(ctx, tx, actor, inv.Org)
		if err != nil {
			return err
		}
		u, err = tx.UserByEmail(ctx, inv.Email)
		if errors.Is(err, fault.ErrNotFound) {
			username := inv.Username
			if username == "" {
				if username, err = freeUsername(ctx, tx, inv.Email); err != nil {
					return err
				}
			}
			u, err = tx.CreateUser(ctx, storage.NewUser{Username: username, Email: inv.Email})
		}
		if err != nil {
			return err
		}
		if u.IsServiceAccount() {
			return invalid("%s is a service account and cannot be invited", u.Username)
		}
		nm.OrgID, nm.UserID, nm.InvitedBy = org.ID, u.ID, &actor.User.ID
		if m, err = tx.AddMembership(ctx, nm); err != nil {
			if errors.Is(err, fault.ErrConflict) {
				return fault.New(fault.ErrConflict, "%s is already a member of or invited to %s", inv.Email, org.Name)
			}
			return err
		}
		e := userEvent(audit.TeamInviteUser, u)
		e.EntityName = org.Name
		rec.add(org.ID, e)
		return nil
	})
	return u, m, err
}

// namedOrg returns the organization called name (or the instance's own when
// name is empty) after checking that actor administers it.
func (s *Service) namedOrg(ctx context.Context, tx *storage.Tx, actor *auth.Principal, name string) (entity.Organization, error) {
	if name != "" {
		return access.AdminOrg(ctx, tx, actor.User, name)
	}
	org, err := s.targetOrg(ctx, tx, name)
	if err != nil {
		return entity.Organization{}, err
	}
	if org == nil {
		return entity.Organization{}, invalid("name the organization")
	}
	return *org, access.RequireOrgAdmin(ctx, tx, actor.User, *org)
}

// freeUsername derives an unused username from an email's local part.
func freeUsername(ctx context.Context, tx *storage.Tx, email string) (string, error) {
	local, _, _ := strings.Cut(email, "@")
	var b strings.Builder
	for _, r := range local {
		if r < 128 && (r == '_' || r == '.' || r == '-' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')) {
			b.WriteRune(r)
		}
	}
	base := strings.TrimLeft(b.String(), "_.-")
	if base == "" {
		base = "user"
	}
	if len(base) > 56 {
		base = base[:56]
	}
	for i := 0; i < 1000; i++ {
		name := base
		if i > 0 {
			name = fmt.Sprintf("%s-%d", base, i)
		}
		if _, err := tx.UserByUsername(ctx, name); errors.Is(err, fault.ErrNotFound) {
			return name, nil
		} else if err != nil {
			return "", err
		}
	}
	return "", invalid("no free username for %s; give one", email)
}

// AcceptInvitation accepts the actor's pending invitation to an organization.
func (s *Service) AcceptInvitation(ctx context.Context, actor *auth.Principal, orgName string) (entity.Membership, error) {
	var m entity.Membership
	err := s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) error {
		// A missing organization and one that did not invite the actor
		// answer alike.
		org, err := tx.OrganizationByName(ctx, orgName)
		var old entity.Membership
		if err == nil {
			old, err = tx.Membership(ctx, org.ID, actor.User.ID)
		}
		if errors.Is(err, fault.ErrNotFound) {
			return fault.New(fault.ErrNotFound, "no invitation to %s for %s", orgName, actor.User.Username)
		}
		if err != nil {
			return err
		}
		if !old.Pending() {
			return invalid("the invitation to %s was already accepted", orgName)
		}
		if m, err = tx.AcceptMembership(ctx, org.ID, actor.User.ID); err != nil {
			return err
		}
		rec.add(org.ID, userEvent(audit.UserUpdate, actor.User))
		return nil
	})
	return m, err
}

// MembershipUpdate holds changes to a member's access; nil leaves a field.
type MembershipUpdate = storage.MembershipUpdate

// UpdateMembership changes a member's role, models seat or weave access.
func (s *Service) UpdateMembership(ctx context.Context, actor *auth.Principal, orgName, username string, up MembershipUpdate) (entity.Membership, error) {
	var m entity.Membership
	for _, c := range []struct {
		field   string
		v       *string
		allowed []string
	}{{"role", up.Role, Roles}, {"models seat", up.ModelsSeat, SeatLevels}, {"weave access", up.WeaveAccess, SeatLevels}} {
		if c.v != nil {
			if err := checkOneOf(c.field, *c.v, c.allowed); err != nil {
				return m, err
			}
		}
	}
	err := s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) error {
		org, err := s.namedOrg(ctx, tx, actor, orgName)
		if err != nil {
			return err
		}
		u, err := userByName(ctx, tx, username)
		if err != nil {
			return err
		}
		if m, err = tx.UpdateMembership(ctx, org.ID, u.ID, up); err != nil {
			return err
		}
		rec.add(org.ID, userEvent(audit.UserUpdate, u))
		return nil
	})
	return m, err
}

// RemoveMember takes a user out of an organization, or withdraws their
// pending invitation (team:uninvite either way).
func (s *Service) RemoveMember(ctx context.Context, actor *auth.Principal, orgName, username string) error {
	return s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) error {
		org, err := s.namedOrg(ctx, tx, actor, orgName)
		if err != nil {
			return err
		}
		u, err := userByName(ctx, tx, username)
		if err != nil {
			return err
		}
		if err := tx.RemoveMembership(ctx, org.ID, u.ID); err != nil {
			return err
		}
		e := userEvent(audit.TeamUninvite, u)
		e.EntityName = org.Name
		rec.add(org.ID, e)
		return nil
	})
}
