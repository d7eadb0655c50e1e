package entity

import "time"

// User is a person or a service account.
type User struct {
	ID            int64  `db:"id"`
	Username      string `db:"username"`
	Name          string `db:"name"`
	Email         string `db:"email"`
	InstanceAdmin bool   `db:"instance_admin"`
	// ServiceAccountTeam is the team a service account belongs to; nil for people.
	ServiceAccountTeam *int64     `db:"service_account_team"`
	DefaultOrgID       *int64     `db:"default_org_id"`
	DeactivatedAt      *time.Time `db:"deactivated_at"`
	CreatedAt          time.Time  `db:"created_at"`
}

// IsServiceAccount reports whether u is a service account.
func (u User) IsServiceAccount() bool { return u.ServiceAccountTeam != nil }

// Deactivated reports whether an admin revoked u's access.
func (u User) Deactivated() bool { return u.DeactivatedAt != nil }
