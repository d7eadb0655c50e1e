package entity

import "time"

// Team is a group of users inside an organization (an entity, in the
// platform's terms).
type Team struct {
	ID        int64     `db:"id"`
	OrgID     int64     `db:"org_id"`
	Name      string    `db:"name"`
	CreatedAt time.Time `db:"created_at"`
}
