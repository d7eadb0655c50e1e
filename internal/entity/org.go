package entity

import "time"

// Organization is a tenant: it holds users through memberships, and teams.
type Organization struct {
	ID        int64     `db:"id"`
	Name      string    `db:"name"`
	Plan      string    `db:"plan"`
	CreatedAt time.Time `db:"created_at"`
}
