package entity

import "time"

// Membership is a user's place in an organization.
type Membership struct {
	OrgID       int64  `db:"org_id"`
	UserID      int64  `db:"user_id"`
	Role        string `db:"role"`
	ModelsSeat  string `db:"models_seat"`
	WeaveAccess string `db:"weave_access"`
	// AddedAt is when the user was added or invited.
	AddedAt time.Time `db:"added_at"`
	// AcceptedAt is nil while an invitation is pending.
	AcceptedAt   *time.Time `db:"accepted_at"`
	InvitedBy    *int64     `db:"invited_by"`
	LastActiveAt *time.Time `db:"last_active_at"`
	ActiveDays   int        `db:"active_days"`
	// RunEvents and ReportEvents count the member's ingested run:* and
	// report:* events in the organization.
	RunEvents    int `db:"run_events"`
	ReportEvents int `db:"report_events"`
}

// Pending reports whether m is an invitation not yet accepted.
func (m Membership) Pending() bool { return m.AcceptedAt == nil }
