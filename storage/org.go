package storage

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/auditgraph/auditgraph/internal/entity"
)

const orgColumns = `id, name, plan, created_at`

// CreateOrganization inserts an organization.
func (tx *Tx) CreateOrganization(ctx context.Context, name, plan string) (entity.Organization, error) {
	var o entity.Organization
	err := tx.get(ctx, &o, `INSERT INTO organizations (name, plan) VALUES ($1, $2) RETURNING `+orgColumns, name, plan)
	if err != nil {
		return o, fmt.Errorf("storage: create organization %q: %w", name, classify(err))
	}
	return o, nil
}

// Organization returns the organization with id.
func (q queries) Organization(ctx context.Context, id int64) (entity.Organization, error) {
	var o entity.Organization
	err := q.get(ctx, &o, `SELECT `+orgColumns+` FROM organizations WHERE id = $1`, id)
	return o, notFound(err, "storage: get organization %d", id)
}

// OrganizationByName returns the organization called name.
func (q queries) OrganizationByName(ctx context.Context, name string) (entity.Organization, error) {
	var o entity.Organization
	err := q.get(ctx, &o, `SELECT `+orgColumns+` FROM organizations WHERE name = $1`, name)
	return o, notFound(err, "storage: get organization %q", name)
}

// Organizations returns up to limit organizations with id > after, by id.
func (q queries) Organizations(ctx context.Context, after int64, limit int) ([]entity.Organization, error) {
	var os []entity.Organization
	err := q.sel(ctx, &os, `SELECT `+orgColumns+` FROM organizations WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	if err != nil {
		return nil, fmt.Errorf("storage: list organizations: %w", err)
	}
	return os, nil
}

// CountOrganizations returns how many organizations exist.
func (q queries) CountOrganizations(ctx context.Context) (int, error) {
	var n int
	err := q.get(ctx, &n, `SELECT count(*) FROM organizations`)
	if err != nil {
		return 0, fmt.Errorf("storage: count organizations: %w", err)
	}
	return n, nil
}

// UserOrganizations returns the organizations the user is a member of
// (pending invitations included), by id.
func (q queries) UserOrganizations(ctx context.Context, userID int64) ([]entity.Organization, error) {
	var os []entity.Organization
	err := q.sel(ctx, &os, `SELECT o.id, o.name, o.plan, o.created_at FROM organizations o
		JOIN memberships m ON m.org_id = o.id WHERE m.user_id = $1 ORDER BY o.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("storage: organizations of user %d: %w", userID, err)
	}
	return os, nil
}

// notFound turns sql.ErrNoRows into ErrNotFound and wraps any error with the
// formatted context.
func notFound(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		err = ErrNotFound
	}
	return fmt.Errorf(format+": %w", append(args, err)...)
}
