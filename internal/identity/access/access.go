// Package access decides who may do what: instance admins, organization
// roles, and which organization an org-scoped API call acts on.
package access

import (
	"context"
	"errors"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
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
	Membership(ctx context.Context, orgID, userID int64) (entity.Membership, error)
	UserMemberships(ctx context.Context, userID int64) ([]entity.Membership, error)
	Organization(ctx context.Context, id int64) (entity.Organization, error)
}

// NameReader is a Reader that also finds organizations by name.
type NameReader interface {
	Reader
	OrganizationByName(ctx context.Context, name string) (entity.Organization, error)
}

// Org returns the organization an org-scoped call acts on, the one called
// name or u's API organization (APIOrg) when name is empty, once check
// allows u to act on it. Someone who is not an instance admin is refused a
// missing organization exactly as check refuses one they have no role in,
// so that a refusal does not tell them which names exist; an instance admin
// is told it does not exist (fault.ErrNotFound).
func Org(ctx context.Context, r NameReader, u entity.User, name string, check func(entity.Organization) error) (entity.Organization, error) {
	if name == "" {
		org, err := APIOrg(ctx, r, u)
		if err != nil {
			return org, err
		}
		return org, check(org)
	}
	org, err := r.OrganizationByName(ctx, name)
	if errors.Is(err, fault.ErrNotFound) && !u.InstanceAdmin {
		if err := check(entity.Organization{Name: name}); err != nil {
			return org, err
		}
	}
	if err != nil {
		return org, notFound(err, name)
	}
	return org, check(org)
}

// AdminOrg returns the organization called name if u may administer it.
// Someone who is not an instance admin is refused a missing organization
// exactly as one they do not administer, so that a refusal does not tell
// them which names exist.
func AdminOrg(ctx context.Context, r NameReader, u entity.User, name string) (entity.Organization, error) {
	org, err := r.OrganizationByName(ctx, name)
	if errors.Is(err, fault.ErrNotFound) && !u.InstanceAdmin {
		return org, notAdmin(u, name)
	}
	if err != nil {
		return org, notFound(err, name)
	}
	return org, RequireOrgAdmin(ctx, r, u, org)
}

// MemberOrg returns the organization called name if u is an instance admin
// or an accepted member of it. As with AdminOrg, a missing organization is
// refused as one u is not a member of.
func MemberOrg(ctx context.Context, r NameReader, u entity.User, name string) (entity.Organization, error) {
	org, err := r.OrganizationByName(ctx, name)
	if errors.Is(err, fault.ErrNotFound) && !u.InstanceAdmin {
		return org, notMember(u, name)
	}
	if err != nil {
		return org, notFound(err, name)
	}
	return org, RequireMember(ctx, r, u, org)
}

// RequireOwnerAdmin checks that u administers the organization orgID that
// owns the thing called what ("alert rule 5"), which was read with readErr.
// A thing that does not exist and one in an organization u does not
// administer are refused alike, naming neither the organization nor whether
// the thing exists; only an instance admin is told that it does not exist.
func RequireOwnerAdmin(ctx context.Context, r Reader, u entity.User, orgID int64, readErr error, what string) error {
	if errors.Is(readErr, fault.ErrNotFound) {
		if u.InstanceAdmin {
			return fault.Wrap(fault.ErrNotFound, readErr, "no %s", what)
		}
		return Forbidden("%s may not manage %s", u.Username, what)
	}
	if readErr != nil {
		return readErr
	}
	ok, err := IsOrgAdmin(ctx, r, u, orgID)
	if err != nil {
		return err
	}
	if !ok {
		return Forbidden("%s may not manage %s", u.Username, what)
	}
	return nil
}

// notFound gives a missing organization its public message.
func notFound(err error, name string) error {
	if errors.Is(err, fault.ErrNotFound) {
		return fault.Wrap(fault.ErrNotFound, err, "no organization called %q", name)
	}
	return err
}

func notAdmin(u entity.User, orgName string) error {
	return Forbidden("%s is not an admin of organization %q", u.Username, orgName)
}

func notMember(u entity.User, orgName string) error {
	return Forbidden("%s is not a member of organization %q", u.Username, orgName)
}

// Forbidden returns an error wrapping ErrForbidden that says what was refused.
func Forbidden(format string, args ...any) error {
	return fault.New(ErrForbidden, format, args...)
}

// Role returns u's role in org, or "" when u is not an accepted member.
func Role(ctx context.Context, r Reader, u entity.User, orgID int64) (string, error) {
	m, err := membership(ctx, r, orgID, u.ID)
	if errors.Is(err, fault.ErrNotFound) {
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
func IsOrgAdmin(ctx context.Context, r Reader, u entity.User, orgID int64) (bool, error) {
	if u.InstanceAdmin {
		return true, nil
	}
	role, err := Role(ctx, r, u, orgID)
	return role == RoleAdmin, err
}

// RequireOrgAdmin returns an ErrForbidden error unless u may administer org.
func RequireOrgAdmin(ctx context.Context, r Reader, u entity.User, org entity.Organization) error {
	ok, err := IsOrgAdmin(ctx, r, u, org.ID)
	if err != nil {
		return err
	}
	if !ok {
		return notAdmin(u, org.Name)
	}
	return nil
}

// RequireMember returns an ErrForbidden error unless u is an instance admin
// or an accepted member of org.
func RequireMember(ctx context.Context, r Reader, u entity.User, org entity.Organization) error {
	if u.InstanceAdmin {
		return nil
	}
	role, err := Role(ctx, r, u, org.ID)
	if err != nil {
		return err
	}
	if role == "" {
		return notMember(u, org.Name)
	}
	return nil
}

// APIOrg returns the organization an org-scoped API acts on for u when the
// request names none: the only one u belongs to, or u's default API
// organization when there are several. A service account belongs to one.
func APIOrg(ctx context.Context, r Reader, u entity.User) (entity.Organization, error) {
	ms, err := r.UserMemberships(ctx, u.ID)
	if err != nil {
		return entity.Organization{}, err
	}
	var accepted []entity.Membership
	for _, m := range ms {
		if !m.Pending() {
			accepted = append(accepted, m)
		}
	}
	switch {
	case len(accepted) == 0:
		return entity.Organization{}, ErrNoOrg
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
	return entity.Organization{}, ErrMultipleOrgs
}

// RequireIngester returns an ErrForbidden error unless u may report audit
// events to org: its admins, instance admins, and the organization's
// service accounts.
func RequireIngester(ctx context.Context, r Reader, u entity.User, org entity.Organization) error {
	ok, err := IsOrgAdmin(ctx, r, u, org.ID)
	if err != nil || ok {
		return err
	}
	if u.IsServiceAccount() {
		role, err := Role(ctx, r, u, org.ID)
		if err != nil || role != "" {
			return err
		}
	}
	return Forbidden("%s may not report audit events to organization %q: org admins and the organization's service accounts may", u.Username, org.Name)
}

// RequireAuditReader returns an ErrForbidden error unless u may read org's
// audit log: its admins and instance admins; in multi-tenant mode only the
// organization's own admins, and only on the Enterprise plan.
func RequireAuditReader(ctx context.Context, r Reader, multiTenant bool, u entity.User, org entity.Organization) error {
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
