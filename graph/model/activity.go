package model

import "time"

// ActivityStats is the activity panels of one organization; each panel
// resolves on its own, with its own period.
type ActivityStats struct {
	OrgID int64
}

// RankedUser is a user's place among the most active users.
type RankedUser struct {
	Rank         int
	UserID       int64
	ActiveDays   int
	LastActiveAt time.Time
}
