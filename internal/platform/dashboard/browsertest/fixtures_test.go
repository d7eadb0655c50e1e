package browsertest_test

import (
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// The organizations the tests work on. BenchmarkPageLoad's 10,000-member
// organization is newBig, in bench_test.go.

// acmeNames are the members of acme, newAcme's organization, by username.
var acmeNames = map[string]string{
	"alice": "Alice Admin", "bob": "Bob Builder", "carol": "Carol Chen", "dave": "Dave Doe", "erin": "Erin Ek",
}

// newAcme returns a self-managed server with the organization "acme"
// (besides the bootstrap's "default") whose members have known dates added
// and activity relative to today. Sorted by Last Active, newest first: bob
// (yesterday), alice (2 days ago), carol (35 days ago), erin (300 days ago,
// shown "-"), then the never active dave, whichever way the sort goes.
// Active in the last 30 days: 2 (bob, alice); 3 months: 3; all time: 4.
// alice is acme's admin; bob and carol are in the team "ml".
func newAcme(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, deployment.SelfManaged)
	date := func(s string) time.Time {
		d, err := time.Parse(time.DateOnly, s)
		if err != nil {
			t.Fatal(err)
		}
		return d.Add(9 * time.Hour)
	}
	e.org("acme",
		person{username: "alice", name: acmeNames["alice"], role: "admin", added: date("2025-01-15"),
			active: []time.Time{e.day(2, 10), e.day(9, 11), e.day(40, 12)}},
		person{username: "bob", name: acmeNames["bob"], added: date("2025-03-01"),
			active: []time.Time{e.day(1, 9), e.day(2, 15), e.day(5, 8), e.day(9, 7)}},
		person{username: "carol", name: acmeNames["carol"], added: date("2025-06-10"),
			active: []time.Time{e.day(35, 14), e.day(100, 14)}},
		person{username: "dave", name: acmeNames["dave"], role: "viewer", added: date("2025-02-02")},
		person{username: "erin", name: acmeNames["erin"], added: date("2024-11-11"),
			active: []time.Time{e.day(300, 16)}},
	)
	if _, err := e.ids.CreateTeam(e.ctx, e.admin, "acme", "ml"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"bob", "carol"} {
		if _, err := e.ids.AddTeamMember(e.ctx, e.admin, "acme", "ml", u); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// waitUsers waits until the Users table has drawn its rows (at least one)
// and is not loading, and returns the usernames in page order.
func (p *page) waitUsers() []string {
	p.t.Helper()
	p.waitFor("table#members-table")
	until[bool](p, "the users table's rows", `(() => {
		const panel = document.querySelector("#panel-users");
		return panel && panel.getAttribute("aria-busy") !== "true" &&
			document.querySelectorAll("#members-table tr[data-username]").length > 0; })()`)
	return p.rows()
}

// rows returns the usernames of the Users table's rows in page order.
func (p *page) rows() []string {
	p.t.Helper()
	return eval[[]string](p, `[...document.querySelectorAll("#members-table tr[data-username]")].map(r => r.dataset.username)`)
}

// newTenant returns a multi-tenant server with the organization "acme":
// its admin alice and members with activity that ranks differently over 7,
// 30 and 90 days; and "beta", where dave is a member too.
func newTenant(t *testing.T) *env {
	t.Helper()
	e := newEnv(t, deployment.MultiTenant)
	e.org("acme",
		person{username: "alice", name: "Alice Admin", role: "admin",
			active: []time.Time{e.day(1, 10), e.day(2, 10), e.day(3, 10), e.day(10, 10)}},
		person{username: "bob", name: "Bob Builder",
			active: []time.Time{e.day(1, 9), e.day(5, 9), e.day(20, 9), e.day(60, 9)}},
		person{username: "carol", name: "Carol Chen",
			active: []time.Time{e.day(40, 8), e.day(50, 8), e.day(70, 8), e.day(80, 8), e.day(85, 8)}},
		person{username: "dave", name: "Dave Doe",
			active: []time.Time{e.day(0), e.day(6, 12)}},
		person{username: "erin", name: "Erin Ek"},
	)
	e.org("beta")
	e.join("beta", "dave", "member")
	return e
}
