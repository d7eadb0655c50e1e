// Package userstatus decides a member's status on the organization
// dashboard, and how the dashboard and the CSV export show it.
package userstatus

import (
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// Status is a member's status.
type Status string

// The statuses. Self-managed and dedicated use the first four; multi-tenant
// uses ACTIVE and NEVER_ACTIVE.
const (
	InvitePending Status = "INVITE_PENDING"
	Active        Status = "ACTIVE"
	Inactive      Status = "INACTIVE"
	Deactivated   Status = "DEACTIVATED"
	NeverActive   Status = "NEVER_ACTIVE"
)

// InactiveAfterMonths is how long without activity makes an active user inactive
// (self-managed and dedicated).
const InactiveAfterMonths = 6

// ActiveSince returns the earliest last-active time that still counts as
// active at now.
func ActiveSince(now time.Time) time.Time { return now.UTC().AddDate(0, -InactiveAfterMonths, 0) }

// Of returns the status of a member. Self-managed: a deactivated user is
// DEACTIVATED, an invitation not yet accepted INVITE_PENDING, a user active
// within six months ACTIVE, anyone else (active before, or never since they
// were added) INACTIVE. Multi-tenant: ACTIVE once there is activity in the
// organization after the cut-off, NEVER_ACTIVE before.
func Of(mode deployment.Mode, u entity.User, m entity.Membership, now time.Time) Status {
	if mode.MultiTenant() {
		if m.LastActiveAt != nil {
			return Active
		}
		return NeverActive
	}
	switch {
	case u.Deactivated():
		return Deactivated
	case m.Pending():
		return InvitePending
	case m.LastActiveAt != nil && !m.LastActiveAt.Before(ActiveSince(now)):
		return Active
	}
	return Inactive
}

// Statuses returns the statuses a mode uses.
func Statuses(mode deployment.Mode) []Status {
	if mode.MultiTenant() {
		return []Status{Active, NeverActive}
	}
	return []Status{InvitePending, Active, Inactive, Deactivated}
}

// LastActive is the dashboard's "Last Active" text: the timestamp of an
// active member, and otherwise what the status shows instead.
func LastActive(s Status, m entity.Membership) string {
	switch s {
	case Active:
		return m.LastActiveAt.UTC().Format(time.RFC3339)
	case InvitePending:
		return "Invite pending"
	case Deactivated:
		return "Deactivated"
	}
	return "-"
}
