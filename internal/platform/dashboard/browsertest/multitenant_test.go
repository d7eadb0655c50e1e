package browsertest_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// ranked returns the usernames of acme's mostActiveUsers for period.
func ranked(e *env, period string) []string {
	e.t.Helper()
	var data struct {
		Organization struct {
			Activity struct {
				MostActiveUsers struct {
					Users []struct{ User struct{ Username string } }
				}
			}
		}
	}
	e.gql("admin", fmt.Sprintf(`{ organization(name: "acme") { activity { mostActiveUsers(period: %s) { users { user { username } } } } } }`, period), nil, &data)
	var out []string
	for _, u := range data.Organization.Activity.MostActiveUsers.Users {
		out = append(out, u.User.Username)
	}
	return out
}

// waitRanking waits until the Most active users list is in the order want.
func (p *page) waitRanking(what string, want []string) {
	p.t.Helper()
	got := eval[[]string](p, `new Promise(resolve => { const end = Date.now() + 10000;
		const read = () => [...document.querySelectorAll("ol#most-active-users li[data-username]")].map(li => li.dataset.username);
		const check = () => { const r = read(); if (r.join(",") === `+js(strings.Join(want, ","))+` || Date.now() > end) return resolve(r);
			setTimeout(check, 50); }; check(); })`)
	if !slices.Equal(got, want) {
		p.t.Errorf("%s: Most active users = %v, want %v (GraphQL)", what, got, want)
	}
}

// TestMultiTenantMembersPage: in multi-tenant mode sign-in lands on
// /account-settings/<org>/members, the Activity Panel above the members
// table; its date picker (30 days by default) updates the active user
// count, the weekly plot (hover shows GraphQL's numbers) and the most
// active users, each refetched from GraphQL.
func TestMultiTenantMembersPage(t *testing.T) {
	t.Parallel()
	e := newTenant(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "")
	p.waitPath("/account-settings/acme/members")
	p.waitUsers()
	p.waitFor("#activity-panel")
	if !eval[bool](p, `document.querySelector("#activity-panel").getBoundingClientRect().top <
		document.querySelector("#panel-users").getBoundingClientRect().top`) {
		t.Errorf("#activity-panel is not above #panel-users")
	}
	p.periodOptions("#activity-range", [][2]string{
		{"7 days", "LAST_7_DAYS"}, {"30 days", "LAST_30_DAYS"}, {"90 days", "LAST_90_DAYS"},
		{"6 months", "LAST_6_MONTHS"}, {"12 months", "LAST_12_MONTHS"},
	})
	if v := eval[string](p, `document.querySelector("#activity-range").value`); v != "LAST_30_DAYS" {
		t.Errorf("#activity-range = %s at first, want LAST_30_DAYS", v)
	}

	check := func(period string) {
		t.Helper()
		p.waitText("#active-user-count", strconv.Itoa(countOf(e, "acme", "activeUserCount", period)))
		pts := series(e, "acme", "weeklyActiveUsers", period)
		p.waitPoints("#weekly-active-users", len(pts))
		p.waitRanking(period, ranked(e, period))
		p.checkHover("#weekly-active-users", "Week of ", pts, "Weekly active users, "+period)
	}
	check("LAST_30_DAYS")
	if got := ranked(e, "LAST_30_DAYS"); !slices.Equal(got, []string{"alice", "bob", "dave"}) {
		t.Errorf("GraphQL's 30-day ranking = %v, want [alice bob dave] (the fixture is wrong)", got)
	}
	if li := p.text(`ol#most-active-users li[data-username="alice"]`); !strings.Contains(li, "Alice Admin") || !strings.Contains(li, "4") {
		t.Errorf("alice's Most active users entry = %q, want her name and 4 active days", li)
	}
	p.axe("the multi-tenant members page")
	p.screenshot("members-multitenant")

	for _, period := range []string{"LAST_90_DAYS", "LAST_7_DAYS", "LAST_30_DAYS"} {
		m := p.mark()
		p.choose("#activity-range", period)
		check(period)
		for _, field := range []string{"activeUserCount", "weeklyActiveUsers", "mostActiveUsers"} {
			p.refetched(m, field, "date range → "+period)
		}
	}

	p.viewport(phoneW, phoneH, true)
	p.open("/account-settings/acme/members")
	p.waitUsers()
	p.waitFor("#activity-panel")
	p.axe("the multi-tenant members page at 390×844")
	p.screenshot("members-multitenant-phone")

	// A user in two organizations gets the list at /account-settings/.
	q := e.newPage(t)
	q.signIn("dave", e.key("dave"), "")
	q.waitPath("/account-settings/")
	until[bool](q, "the organization links", `document.querySelectorAll("a.org-link").length === 2`)
	links := eval[[]string](q, `[...document.querySelectorAll("a.org-link")].map(a => a.getAttribute("href"))`)
	slices.Sort(links)
	if want := []string{"/account-settings/acme/members", "/account-settings/beta/members"}; !slices.Equal(links, want) {
		t.Errorf("organization links = %v, want %v", links, want)
	}
	q.axe("the multi-tenant organization list")
}
