package storage

import (
	"context"
	"fmt"
	"github.com/auditgraph/auditgraph/internal/entity"
	"time"
)

const userColumns = `id, username, name, COALESCE(email, '') AS email, instance_admin,
	service_account_team, default_org_id, deactivated_at, created_at`

// NewUser is what CreateUser needs.
type NewUser struct {
	Username           string
	Name               string
	Email              string
	InstanceAdmin      bool
	ServiceAccountTeam *int64
}

// CreateUser inserts a user.
func (tx *Tx) CreateUser(ctx context.Context, nu NewUser) (entity.User, error) {
	var u entity.User
	err := tx.get(ctx, &u, `INSERT INTO users (username, name, email, instance_admin, service_account_team)
		VALUES ($1, $2, NULLIF($3, ''), $4, $5) RETURNING `+userColumns,
		nu.Username, nu.Name, nu.Email, nu.InstanceAdmin, nu.ServiceAccountTeam)
	if err != nil {
		return u, fmt.Errorf("storage: create user %q: %w", nu.Username, classify(err))
	}
	return u, nil
}

// User returns the user with id.
func (q queries) User(ctx context.Context, id int64) (entity.User, error) {
	var u entity.User
	err := q.get(ctx, &u, `SELECT `+userColumns+` FROM users WHERE id = $1`, id)
	return u, notFound(err, "storage: get user %d", id)
}

// UserByUsername returns the user called username.
func (q queries) UserByUsername(ctx context.Context, username string) (entity.User, error) {
	var u entity.User
	err := q.get(ctx, &u, `SELECT `+userColumns+` FROM users WHERE username = $1`, username)
	return u, notFound(err, "storage: get user %q", username)
}

// UserByEmail returns the user with email.
func (q queries) UserByEmail(ctx context.Context, email string) (entity.User, error) {
	var u entity.User
	err := q.get(ctx, &u, `SELECT `+userColumns+` FROM users WHERE email = $1`, email)
	return u, notFound(err, "storage: get user with email %q", email)
}

// UsersByID returns the users with the given ids, in the order of ids;
// missing users are left out.
func (q queries) UsersByID(ctx context.Context, ids []int64) ([]entity.User, error) {
	var us []entity.User
	err := q.sel(ctx, &us, `SELECT `+userColumns+` FROM users WHERE id = ANY($1)
		ORDER BY array_position($1, id)`, int64Array(ids))
	if err != nil {
		return nil, fmt.Errorf("storage: get users: %w", err)
	}
	return us, nil
}

// UserUpdate holds the profile fields to change; nil leaves a field as it is.
type UserUpdate struct {
	Name  *string
	Email *string
}

// UpdateUser changes a user's profile.
func (tx *Tx) UpdateUser(ctx context.Context, id int64, up UserUpdate) (entity.User, error) {
	var u entity.User
	err := tx.get(ctx, &u, `UPDATE users SET
		name = COALESCE($2, name),
		email = CASE WHEN $3::text IS NULL THEN email ELSE NULLIF($3, '') END
		WHERE id = $1 RETURNING `+userColumns, id, up.Name, up.Email)
	return u, notFound(classify(err), "storage: update user %d", id)
}

// SetUserDeactivated deactivates (at != nil) or reactivates (at == nil) a user.
func (tx *Tx) SetUserDeactivated(ctx context.Context, id int64, at *time.Time) (entity.User, error) {
	var u entity.User
	err := tx.get(ctx, &u, `UPDATE users SET deactivated_at = $2 WHERE id = $1 RETURNING `+userColumns, id, at)
	return u, notFound(err, "storage: deactivate user %d", id)
}

// SetDefaultOrg sets the organization that org-scoped APIs use for a user who
// belongs to several.
func (tx *Tx) SetDefaultOrg(ctx context.Context, userID int64, orgID *int64) (entity.User, error) {
	var u entity.User
	err := tx.get(ctx, &u, `UPDATE users SET default_org_id = $2 WHERE id = $1 RETURNING `+userColumns, userID, orgID)
	return u, notFound(err, "storage: set default organization of user %d", userID)
}

// DeleteUser removes a user with their memberships, team memberships and keys.
func (tx *Tx) DeleteUser(ctx context.Context, id int64) error {
	n, err := tx.exec(ctx, `DELETE FROM users WHERE id = $1`, id)
	if err == nil && n == 0 {
		err = ErrNotFound
	}
	return notFound(err, "storage: delete user %d", id)
}

// CountUsers returns how many users exist, for first-start detection.
func (q queries) CountUsers(ctx context.Context) (int, error) {
	var n int
	if err := q.get(ctx, &n, `SELECT count(*) FROM users`); err != nil {
		return 0, fmt.Errorf("storage: count users: %w", err)
	}
	return n, nil
}
