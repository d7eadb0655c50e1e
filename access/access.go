// Package access decides who may do what: instance admins, organization
// roles, and which organization an org-scoped API call acts on.
package access

import (
	"context"
	"errors"
	"fmt"

	"github.com/auditgraph/auditgraph/storage"
)

// Org roles.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
	RoleViewer = "viewer"
)

// ErrForbidden means the caller is authenticated but not allowed.
var ErrForbidden = errors.New("forbidden")

// ErrMultipleOrgs is the documented error for a user in several
// organizations with no default API organization. Its text must not change:
// scripts match on it.
var ErrMultipleOrgs = errors.New("user is associated with multiple organizations but no valid org ID found in user info")

// ErrNoOrg means the caller belongs to no organization.
var ErrNoOrg = errors.New("user is not a member of any organization")

// Reader is the part of the store the rules read.
type Reader interface {
	Membership(ctx context.Context, orgID, userID int64) (storage.Membership, error)
	UserMemberships(ctx context.Context, userID int64) ([]storage.Membership, error)
	Organization(ctx context.Context, id int64) (storage.Organization, error)
}

// Forbidden returns an error wrapping ErrForbidden that says what was refused.
func Forbidden(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrForbidden}, args...)...)
}

// Role returns u's role in org, or "" when u is not an accepted member.
func Role(ctx context.Context, r Reader, u storage.User, orgID int64) (string, error) {
	m, err := membership(ctx, r, orgID, u.ID)
	if errors.Is(err, storage.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	if m.Pending() {
		return "", nil
	}
	return m.Role, nil
}

// IsOrgAdmin reports whether u may administer org: an instance admin, or an
// accepted member with the admin role.
func IsOrgAdmin(ctx context.Context, r Reader, u storage.User, orgID int64) (bool, error) {
	if u.InstanceAdmin {
		return true, nil
	}
	role, err := Role(ctx, r, u, orgID)
	return role == RoleAdmin, err
}

// RequireOrgAdmin returns an ErrForbidden error unless u may administer org.
func RequireOrgAdmin(ctx context.Context, r Reader, u storage.User, org storage.Organization) error {
	ok, err := IsOrgAdmin(ctx, r, u, org.ID)
	if err != nil {
		return err
	}
	if !ok {
		return Forbidden("%s is not an admin of organization %q", u.Username, org.Name)
	}
	return nil
}

// RequireMember returns an ErrForbidden error unless u is an instance admin
// or an accepted member of org.
func RequireMember(ctx context.Context, r Reader, u storage.User, org storage.Organization) error {
	if u.InstanceAdmin {
		return nil
	}
	role, err := Role(ctx, r, u, org.ID)
	if err != nil {
		return err
	}
	if role == "" {
		return Forbidden("%s is not a member of organization %q", u.Username, org.Name)
	}
	return nil
}

// APIOrg returns the organization an org-scoped API acts on for u when the
// request names none: the only one u belongs to, or u's default API
// organization when there are several. A service account belongs to one.
func APIOrg(ctx context.Context, r Reader, u storage.User) (storage.Organization, error) {
	ms, err := r.UserMemberships(ctx, u.ID)
	if err != nil {
		return storage.Organization{}, err
	}
	var accepted []storage.Membership
	for _, m := range ms {
		if !m.Pending() {
			accepted = append(accepted, m)
		}
	}
	switch {
	case len(accepted) == 0:
		return storage.Organization{}, ErrNoOrg
	case len(accepted) == 1:
		return r.Organization(ctx, accepted[0].OrgID)
	}
	if u.DefaultOrgID != nil {
		for _, m := range accepted {
			if m.OrgID == *u.DefaultOrgID {
				return r.Organization(ctx, m.OrgID)
			}
		}
	}
	return storage.Organization{}, ErrMultipleOrgs
}

// RequireAuditReader returns an ErrForbidden error unless u may read org's
// audit log: its admins and instance admins; in multi-tenant mode only the
// organization's own admins, and only on the Enterprise plan.
func RequireAuditReader(ctx context.Context, r Reader, multiTenant bool, u storage.User, org storage.Organization) error {
	if !multiTenant {
		return RequireOrgAdmin(ctx, r, u, org)
	}
	role, err := Role(ctx, r, u, org.ID)
	if err != nil {
		return err
	}
	if role != RoleAdmin {
		return Forbidden("only admins of organization %q may read its audit log", org.Name)
	}
	if org.Plan != "enterprise" {
		return Forbidden("the audit log of organization %q needs the Enterprise plan (it is on %s)", org.Name, org.Plan)
	}
	return nil
}
