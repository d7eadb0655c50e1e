package browsertest_test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// usersQueries returns how many of the GraphQL request bodies are the
// Users table's query (DashboardUsers).
func usersQueries(bodies []string) int {
	n := 0
	for _, b := range bodies {
		if strings.Contains(b, "query DashboardUsers") {
			n++
		}
	}
	return n
}

// TestUsersListingInAddress: the Users tab's search, filters and order go
// into the address as they change; opening that address shows the same
// list, with the same controls set, asking the API once; values the page
// does not offer are ignored.
func TestUsersListingInAddress(t *testing.T) {
	t.Parallel()
	e := newAcme(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme")
	p.waitUsers()

	p.choose("#filter-role", "MEMBER")
	p.click("th#col-last-active button")
	// Members (bob, carol, erin) by Last Active, newest first.
	want := []string{"bob", "carol", "erin"}
	p.waitOrder("members by Last Active", want)
	p.typeInto("#members-search", "ca")
	p.waitOrder("searching ca", []string{"carol"})
	addr := until[string](p, "the address naming the listing", `(() => {
		const q = new URLSearchParams(location.search);
		return q.get("q") === "ca" && q.get("role") === "MEMBER" && q.get("sort") === "-last-active" &&
			q.get("org") === "acme" && !q.has("tab") ? location.pathname + location.search : ""; })()`)

	// The address alone reproduces the view.
	m := p.mark()
	p.open(addr)
	p.waitUsers()
	p.waitOrder("the address opened", []string{"carol"})
	if got := eval[string](p, `document.querySelector("#members-search").value`); got != "ca" {
		t.Errorf("search box = %q, want ca", got)
	}
	if got := eval[string](p, `document.querySelector("#filter-role").value`); got != "MEMBER" {
		t.Errorf("role filter = %q, want MEMBER", got)
	}
	if got := p.ariaSort("th#col-last-active"); got != "descending" {
		t.Errorf("th#col-last-active aria-sort = %q, want descending", got)
	}
	if n := usersQueries(p.graphqlSince(m)); n != 1 {
		t.Errorf("opening the address sent the users query %d times, want once", n)
	}
	p.axe("the Users tab opened from an address with filters")

	// Clearing the search takes q out of the address; the rest stays.
	eval[bool](p, `(() => { const el = document.querySelector("#members-search"); el.focus(); el.value = "";
		el.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`)
	p.waitOrder("search cleared", want)
	until[bool](p, "q gone from the address", `(() => { const q = new URLSearchParams(location.search);
		return !q.has("q") && q.get("role") === "MEMBER" && q.get("sort") === "-last-active"; })()`)

	// What the page does not offer is ignored: all users, by name.
	v := url.Values{"org": {"acme"}, "role": {"BOSS"}, "status": {"GONE"}, "sort": {"shoe-size"}}
	p.open("/org/dashboard?" + v.Encode())
	p.waitUsers()
	p.waitOrder("unknown values ignored", []string{"alice", "bob", "carol", "dave", "erin"})
	for _, sel := range []string{"#filter-role", "#filter-status", "#filter-team"} {
		if got := eval[string](p, `document.querySelector(`+js(sel)+`).value`); got != "" {
			t.Errorf("%s = %q, want All", sel, got)
		}
	}

	// A team named by the address shows as chosen, and filters.
	p.open("/org/dashboard?org=acme&team=ml&status=ACTIVE")
	p.waitUsers()
	p.waitOrder("team ml, active", []string{"bob", "carol"})
	if got := eval[string](p, `document.querySelector("#filter-team").value`); got != "ml" {
		t.Errorf("team filter = %q, want ml", got)
	}

	// Another tab and back: the Users tab keeps its listing, and its
	// address again names it.
	p.click("#tab-activity")
	until[bool](p, "the Activity tab's address", `new URLSearchParams(location.search).get("tab") === "activity"`)
	if q := eval[string](p, `location.search`); strings.Contains(q, "team=") {
		t.Errorf("the Activity tab's address %q keeps the Users filters", q)
	}
	p.click("#tab-users")
	until[bool](p, "the Users tab's address names its listing again", `(() => { const q = new URLSearchParams(location.search);
		return !q.has("tab") && q.get("team") === "ml" && q.get("status") === "ACTIVE"; })()`)
	if got := p.rows(); !slices.Equal(got, []string{"bob", "carol"}) {
		t.Errorf("back on Users: rows %v, want [bob carol]", got)
	}
}

// TestMembersListingInAddress: the multi-tenant Members page keeps its
// listing in the query string of its path, and opening it shows the list.
func TestMembersListingInAddress(t *testing.T) {
	t.Parallel()
	e := newTenant(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/account-settings/acme/members")
	rows := p.waitUsers() // by Name, ascending: one page
	slices.Reverse(rows)
	p.click("th#col-name button")
	until[bool](p, "the address naming the order", `location.pathname === "/account-settings/acme/members" &&
		new URLSearchParams(location.search).get("sort") === "-name"`)
	p.waitOrder("by Name descending", rows)
	m := p.mark()
	p.open("/account-settings/acme/members?sort=-name")
	p.waitUsers()
	p.waitOrder("opened by Name descending", rows)
	if got := p.ariaSort("th#col-name"); got != "descending" {
		t.Errorf("th#col-name aria-sort = %q, want descending", got)
	}
	if n := usersQueries(p.graphqlSince(m)); n != 1 {
		t.Errorf("opening the address sent the users query %d times, want once", n)
	}
}
