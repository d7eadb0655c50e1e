package browsertest_test

import (
	"regexp"
	"slices"
	"testing"
)

// operations returns the operation names of GraphQL request bodies
// ("query DashboardUsers(" → DashboardUsers), sorted.
func operations(bodies []string) []string {
	re := regexp.MustCompile(`(?:query|mutation)\s+(\w+)`)
	var out []string
	for _, b := range bodies {
		if m := re.FindStringSubmatch(b); m != nil {
			out = append(out, m[1])
		} else {
			out = append(out, "?")
		}
	}
	slices.Sort(out)
	return out
}

// loadOnce opens path, waits for sel, and checks the page's GraphQL
// requests: each of want once, no other, and every request the early
// script (boot.js) sent taken by the page (none left over, none asked
// twice).
func (p *page) loadOnce(path, sel string, want ...string) {
	p.t.Helper()
	m := p.mark()
	p.open(path)
	p.waitFor(sel)
	// Requests still to come would show up here.
	until[bool](p, "the page settled", `document.querySelectorAll("[aria-busy=true]").length === 0`)
	slices.Sort(want)
	if got := operations(p.graphqlSince(m)); !slices.Equal(got, want) {
		p.t.Errorf("%s: GraphQL requests %v, want %v", path, got, want)
	}
	if left := eval[int](p, `window.__agPreload ? window.__agPreload.size : -1`); left != 0 {
		p.t.Errorf("%s: %d early requests not taken by the page (-1: the early script did not run)", path, left)
	}
}

// TestEarlyRequests: on each page the early script asks exactly what the
// page needs first, and the page takes every answer: the Users tab (also
// with filters in the address), the Activity tab, another tab.
func TestEarlyRequests(t *testing.T) {
	t.Parallel()
	e := newAcme(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme")
	p.waitUsers()
	p.loadOnce("/org/dashboard?org=acme", "#members-table tr[data-username]", "DashboardViewer", "DashboardUsers", "DashboardTeams")
	p.loadOnce("/org/dashboard?org=acme&q=bo&role=MEMBER&sort=-last-active", `#members-table tr[data-username="bob"]`,
		"DashboardViewer", "DashboardUsers", "DashboardTeams")
	p.loadOnce("/org/dashboard?org=acme&tab=activity", "#users-over-time[data-points]",
		"DashboardViewer", "TotalActiveUsers", "UsersActiveOverTime")
	// The address names no organization: the viewer first, then the page.
	p.loadOnce("/org/dashboard", "#members-table tr[data-username]", "DashboardViewer", "DashboardUsers", "DashboardTeams")
}

// TestEarlyRequestsMultiTenant: the Members page's early requests (the
// Activity Panel, the users, the teams, the viewer) are all taken.
func TestEarlyRequestsMultiTenant(t *testing.T) {
	t.Parallel()
	e := newTenant(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/account-settings/acme/members")
	p.waitUsers()
	p.loadOnce("/account-settings/acme/members", "#weekly-active-users[data-points]",
		"DashboardViewer", "ActivityPanel", "DashboardUsers", "DashboardTeams")
	p.loadOnce("/account-settings/acme/members?sort=-name&status=ACTIVE", "#members-table tr[data-username]",
		"DashboardViewer", "ActivityPanel", "DashboardUsers", "DashboardTeams")
}
