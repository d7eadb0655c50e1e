package userstatus

import (
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

func TestOf(t *testing.T) {
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	at := func(tt time.Time) *time.Time { return &tt }
	sixMonths := now.AddDate(0, -6, 0)
	accepted := at(now.AddDate(-1, 0, 0))
	for _, tc := range []struct {
		name string
		mode deployment.Mode
		u    entity.User
		m    entity.Membership
		want Status
	}{
		{"invited, not accepted", deployment.SelfManaged, entity.User{}, entity.Membership{}, InvitePending},
		{"deactivated wins over pending", deployment.SelfManaged, entity.User{DeactivatedAt: at(now)}, entity.Membership{}, Deactivated},
		{"deactivated wins over active", deployment.SelfManaged, entity.User{DeactivatedAt: at(now)}, entity.Membership{AcceptedAt: accepted, LastActiveAt: at(now)}, Deactivated},
		{"active today", deployment.SelfManaged, entity.User{}, entity.Membership{AcceptedAt: accepted, LastActiveAt: at(now)}, Active},
		{"active 6 months minus a day ago", deployment.SelfManaged, entity.User{}, entity.Membership{AcceptedAt: accepted, LastActiveAt: at(sixMonths.AddDate(0, 0, 1))}, Active},
		{"active exactly 6 months ago", deployment.SelfManaged, entity.User{}, entity.Membership{AcceptedAt: accepted, LastActiveAt: at(sixMonths)}, Active},
		{"active 6 months plus a day ago", deployment.SelfManaged, entity.User{}, entity.Membership{AcceptedAt: accepted, LastActiveAt: at(sixMonths.AddDate(0, 0, -1))}, Inactive},
		{"accepted, never active", deployment.SelfManaged, entity.User{}, entity.Membership{AcceptedAt: accepted}, Inactive},
		{"dedicated behaves as self-managed", deployment.Dedicated, entity.User{}, entity.Membership{}, InvitePending},
		{"multi-tenant never active", deployment.MultiTenant, entity.User{}, entity.Membership{AcceptedAt: accepted}, NeverActive},
		{"multi-tenant active long ago", deployment.MultiTenant, entity.User{}, entity.Membership{AcceptedAt: accepted, LastActiveAt: at(now.AddDate(-1, 0, 0))}, Active},
		{"multi-tenant ignores deactivation", deployment.MultiTenant, entity.User{DeactivatedAt: at(now)}, entity.Membership{LastActiveAt: at(now)}, Active},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Of(tc.mode, tc.u, tc.m, now); got != tc.want {
				t.Errorf("Of(%s) = %s, want %s", tc.name, got, tc.want)
			}
		})
	}
}

func TestLastActive(t *testing.T) {
	ts := time.Date(2026, 1, 2, 3, 4, 5, 6, time.FixedZone("X", 3600))
	m := entity.Membership{LastActiveAt: &ts}
	for s, want := range map[Status]string{
		Active: "2026-01-02T02:04:05Z", InvitePending: "Invite pending", Deactivated: "Deactivated",
		Inactive: "-", NeverActive: "-",
	} {
		t.Run(string(s), func(t *testing.T) {
			if got := LastActive(s, m); got != want {
				t.Errorf("LastActive(%s) = %q, want %q", s, got, want)
			}
		})
	}
}
