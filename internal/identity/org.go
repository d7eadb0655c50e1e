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

// CreateOrganization creates an organization (instance admins only). The
// catalog has no organization action; an organization is the platform's
// top-level entity, so its creation is recorded as team:create in its own log.
func (s *Service) CreateOrganization(ctx context.Context, actor *auth.Principal, name, plan string) (entity.Organization, error) {
	var org entity.Organization
	if err := requireInstanceAdmin(actor, "create organizations"); err != nil {
		return org, err
	}
	plan = orDefault(plan, "free")
	if err := CheckName("organization name", name); err != nil {
		return org, err
	}
	if err := checkOneOf("plan", plan, Plans); err != nil {
		return org, err
	}
	err := s.change(ctx, actor, func(tx *storage.Tx, rec *recorder) (err error) {
		org, err = tx.CreateOrganization(ctx, name, plan)
		if err != nil {
			return conflict(err, "an organization called %s exists already", name)
		}
		rec.add(org.ID, audit.Event{Action: audit.TeamCreate, EntityAsset: "org-" + id(org.ID), EntityName: org.Name})
		return nil
	})
	return org, err
}

// Organization returns the organization called name if actor may see it.
func (s *Service) Organization(ctx context.Context, actor *auth.Principal, name string) (entity.Organization, error) {
	org, err := s.FindOrganization(ctx, actor, name)
	if errors.Is(err, fault.ErrNotFound) && !actor.User.InstanceAdmin {
		// Refused as an organization the actor is not in.
		return org, access.Forbidden("%s is not a member of organization %q", actor.User.Username, name)
	}
	if err != nil {
		return org, notFound(err, "no organization called %q", name)
	}
	return org, access.RequireMember(ctx, s.store, actor.User, org)
}

// FindOrganization returns the organization called name (fault.ErrNotFound
// when there is none) and decides nothing: it is the read that the access
// rules of a request then decide on. It reads the organization with
// actor's membership in one statement, or takes both from the cache (see
// auth.Cache), and tells ctx's memo (access.WithMemo) both, so that the
// request's checks find the membership without a round trip.
func (s *Service) FindOrganization(ctx context.Context, actor *auth.Principal, name string) (entity.Organization, error) {
	key := orgKey{user: actor.User.ID, name: name}
	a, ok := s.orgs.Get(key)
	if ok && a.m != nil {
		m := *a.m // the request's own copy
		a.m = &m
	}
	if !ok {
		tk := s.orgs.Ticket()
		org, m, err := s.store.OrganizationWithMembership(ctx, name, actor.User.ID)
		if err != nil {
			return org, err
		}
		a = orgAnswer{org: org, m: m}
		s.orgs.Put(tk, key, actor.User.ID, a)
	}
	access.RememberOrg(ctx, a.org)
	access.Remember(ctx, a.org.ID, actor.User.ID, a.m)
	return a.org, nil
}

// Organizations returns the organizations actor may see: all of them for an
// instance admin, their own for anyone else.
func (s *Service) Organizations(ctx context.Context, actor *auth.Principal, after int64, limit int) ([]entity.Organization, int, error) {
	if actor.User.InstanceAdmin {
		orgs, err := s.store.Organizations(ctx, after, limit)
		if err != nil {
			return nil, 0, err
		}
		n, err := s.store.CountOrganizations(ctx)
		return orgs, n, err
	}
	all, err := s.store.UserOrganizations(ctx, actor.User.ID)
	if err != nil {
		return nil, 0, err
	}
	var mine []entity.Organization
	for _, o := range all {
		if role, err := access.Role(ctx, s.store, actor.User, o.ID); err != nil {
			return nil, 0, err
		} else if role != "" {
			mine = append(mine, o)
		}
	}
	n := len(mine)
	var page []entity.Organization
	for _, o := range mine {
		if o.ID > after && len(page) < limit {
			page = append(page, o)
		}
	}
	return page, n, nil
}
