package browsertest_test

import (
	"bytes"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// apiOrder returns acme's usernames in the order GraphQL lists them for
// the given order, as admin.
func apiOrder(e *env, field, direction string) []string {
	e.t.Helper()
	var data struct {
		Organization struct {
			Users struct{ Nodes []struct{ Username string } }
		}
	}
	e.gql("admin", `query($f: UserOrderField!, $d: OrderDirection!) { organization(name: "acme") {
		users(first: 50, orderBy: {field: $f, direction: $d}) { nodes { username } } } }`,
		map[string]any{"f": field, "d": direction}, &data)
	var out []string
	for _, n := range data.Organization.Users.Nodes {
		out = append(out, n.Username)
	}
	return out
}

// waitOrder waits until the Users table's rows are in the order want.
func (p *page) waitOrder(what string, want []string) {
	p.t.Helper()
	wantJS := js(strings.Join(want, ","))
	ctxRows := `[...document.querySelectorAll("#members-table tr[data-username]")].map(r => r.dataset.username).join(",")`
	ok := eval[bool](p, `new Promise(resolve => { const end = Date.now() + 10000;
		const check = () => { if (`+ctxRows+` === `+wantJS+`) return resolve(true);
			if (Date.now() > end) return resolve(false); setTimeout(check, 50); }; check(); })`)
	if !ok {
		p.t.Errorf("%s: rows = %v, want %v", what, p.rows(), want)
	}
}

// ariaSort returns the aria-sort attribute of the header cell sel.
func (p *page) ariaSort(sel string) string {
	p.t.Helper()
	return eval[string](p, `(() => { const th = document.querySelector(`+js(sel)+`);
		return th ? (th.getAttribute("aria-sort") || "") : "missing"; })()`)
}

// TestLastActiveSort: the table opens sorted by Name; clicking Last Active
// sorts newest first, clicking again oldest first, the never active user
// last both ways, in the order the API gives.
func TestLastActiveSort(t *testing.T) {
	t.Parallel()
	e := newAcme(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme")
	p.waitUsers()
	p.waitOrder("opened (Name ascending)", []string{"alice", "bob", "carol", "dave", "erin"})
	if got := p.ariaSort("th#col-name"); got != "ascending" {
		t.Errorf("th#col-name aria-sort = %q at first, want ascending", got)
	}
	// The header cells' names, as a screen reader gets them: without the
	// sort arrows, which must be aria-hidden. An admin's table has one more
	// column at the end, for the row menus.
	headers := eval[[]string](p, `[...document.querySelectorAll("#members-table thead th")].map(th => {
		const c = th.cloneNode(true); c.querySelectorAll("[aria-hidden=true]").forEach(el => el.remove());
		return c.textContent.replace(/\s+/g, " ").trim(); })`)
	want := []string{"Name", "Username", "Role", "Models seat", "Weave access", "Email", "Teams", "Last Active"}
	if len(headers) < len(want) || !slices.Equal(headers[:len(want)], want) || len(headers) > len(want)+1 {
		t.Errorf("header cells = %q, want %q (and for an admin one more, for the row actions)", headers, want)
	}

	desc := []string{"bob", "alice", "carol", "erin", "dave"}
	if api := apiOrder(e, "LAST_ACTIVE", "DESC"); !slices.Equal(api, desc) {
		t.Fatalf("the API's LAST_ACTIVE DESC order = %v, want %v (the fixture is wrong)", api, desc)
	}
	p.click("th#col-last-active button")
	p.waitOrder("Last Active clicked once", desc)
	if got := p.ariaSort("th#col-last-active"); got != "descending" {
		t.Errorf("th#col-last-active aria-sort = %q after one click, want descending", got)
	}
	if got := p.ariaSort("th#col-name"); got != "" {
		t.Errorf("th#col-name aria-sort = %q while sorted by Last Active, want none", got)
	}
	p.axe("the Users tab sorted by Last Active")

	asc := []string{"erin", "carol", "alice", "bob", "dave"}
	if api := apiOrder(e, "LAST_ACTIVE", "ASC"); !slices.Equal(api, asc) {
		t.Fatalf("the API's LAST_ACTIVE ASC order = %v, want %v (the fixture is wrong)", api, asc)
	}
	// The second time with the keyboard: the header's button is focusable.
	eval[bool](p, `(document.querySelector("th#col-last-active button").focus(), true)`)
	p.pressEnter()
	p.waitOrder("Last Active clicked twice", asc)
	if got := p.ariaSort("th#col-last-active"); got != "ascending" {
		t.Errorf("th#col-last-active aria-sort = %q after two clicks, want ascending", got)
	}
}

// TestLastActiveTooltip: hovering over, or focusing, a Last Active cell
// shows the seeded date added and active days in a tooltip the cell
// points to (aria-describedby); the cell shows the API's text.
func TestLastActiveTooltip(t *testing.T) {
	t.Parallel()
	e := newAcme(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme")
	p.waitUsers()

	var data struct {
		Organization struct {
			Users struct {
				Nodes []struct {
					Username, LastActiveDisplay string
				}
			}
		}
	}
	e.gql("admin", `{ organization(name: "acme") { users(first: 50) { nodes { username lastActiveDisplay } } } }`, nil, &data)
	for _, n := range data.Organization.Users.Nodes {
		if got := p.text(`tr[data-username="` + n.Username + `"] td.last-active`); got != n.LastActiveDisplay {
			t.Errorf("%s: Last Active cell = %q, want the API's %q", n.Username, got, n.LastActiveDisplay)
		}
	}

	for _, tc := range []struct {
		username, how, added string
		days                 int
	}{
		{"bob", "hover", "2025-03-01", 4},
		{"carol", "focus", "2025-06-10", 2},
		{"dave", "hover", "2025-02-02", 0},
	} {
		cell := `tr[data-username="` + tc.username + `"] td.last-active`
		if ti := eval[string](p, `document.querySelector(`+js(cell)+`).getAttribute("tabindex") || ""`); ti != "0" {
			t.Errorf("%s: Last Active cell tabindex = %q, want 0", tc.username, ti)
		}
		switch tc.how {
		case "hover":
			p.hover(cell)
		case "focus":
			p.mouseTo(1, 1)
			eval[bool](p, `(document.querySelector(`+js(cell)+`).focus(), true)`)
		}
		tip := until[string](p, tc.how+" tooltip of "+tc.username, `(() => {
			const cell = document.querySelector(`+js(cell)+`);
			const ids = (cell.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean);
			for (const id of ids) { const el = document.getElementById(id);
				if (el && el.getAttribute("role") === "tooltip" && el.getBoundingClientRect().height > 0) return el.innerText.trim(); }
			return ""; })()`)
		for _, want := range []string{"Date added: " + tc.added, fmt.Sprintf("Active days: %d", tc.days)} {
			if !strings.Contains(tip, want) {
				t.Errorf("%s tooltip of %s = %q, want it to contain %q", tc.how, tc.username, tip, want)
			}
		}
		if tc.username == "bob" {
			p.axe("the Users tab with a Last Active tooltip")
			p.screenshot("users-tooltip")
		}
	}
}

// TestExportCSV: Export as CSV, in the menu next to Invite new user,
// downloads exactly what GET /admin/users.csv returns for the organization.
func TestExportCSV(t *testing.T) {
	t.Parallel()
	e := newAcme(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme")
	p.waitUsers()
	p.waitFor("#invite-user")
	menu := eval[[]string](p, `(() => { const b = document.querySelector("button#actions-menu");
		return [b.getAttribute("aria-label") || "", b.getAttribute("aria-haspopup") || "",
			document.querySelector("#invite-user").textContent.trim()]; })()`)
	if want := []string{"More actions", "menu", "Invite new user"}; !slices.Equal(menu, want) {
		t.Errorf("actions menu button (aria-label, aria-haspopup) and #invite-user text = %q, want %q", menu, want)
	}
	p.click("button#actions-menu")
	p.waitFor("a#export-csv")
	p.axe("the Users tab with its actions menu open")
	if text := p.text("a#export-csv"); text != "Export as CSV" {
		t.Errorf("a#export-csv text = %q, want Export as CSV", text)
	}
	if href := eval[string](p, `document.querySelector("a#export-csv").getAttribute("href")`); href != "/admin/users.csv?org=acme" {
		t.Errorf("a#export-csv href = %q, want /admin/users.csv?org=acme", href)
	}
	if !eval[bool](p, `document.querySelector("a#export-csv").hasAttribute("download")`) {
		t.Errorf("a#export-csv has no download attribute")
	}
	p.click("a#export-csv")
	got := p.download()

	code, want := e.get("/admin/users.csv?org=acme", "alice")
	if code != http.StatusOK {
		t.Fatalf("GET /admin/users.csv?org=acme = %d %s", code, want)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("downloaded CSV differs from GET /admin/users.csv:\n got %q\nwant %q", got, want)
	}
	if !bytes.HasPrefix(got, []byte(`"Name","Username","Org Role"`)) {
		t.Errorf("downloaded CSV starts %q, want the self-managed header", got[:min(len(got), 60)])
	}
}

// TestAdminChangesRole: an organization admin changes a member's role in
// the table; the notice says so, the table and the API show the new role,
// also after a reload. A member who is not an admin sees only themselves
// and no controls.
func TestAdminChangesRole(t *testing.T) {
	t.Parallel()
	e := newAcme(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme")
	p.waitUsers()
	sel := `select.role-select[aria-label="Role for bob"]`
	p.waitFor(sel)
	if got := eval[string](p, `document.querySelector(`+js(sel)+`).value`); got != "MEMBER" {
		t.Errorf("bob's role select = %q before the change, want MEMBER", got)
	}
	m := p.mark()
	p.choose(sel, "ADMIN")
	notice := until[string](p, "the notice of the role change", `(() => { const el = document.querySelector("#notice");
		return el && el.innerText.trim(); })()`)
	if want := "Changed bob's role to Admin"; !strings.Contains(notice, want) {
		t.Errorf("#notice = %q, want %q", notice, want)
	}
	if role := eval[string](p, `document.querySelector("#notice").getAttribute("role") || ""`); role != "status" {
		t.Errorf("#notice role = %q, want status", role)
	}
	var mutated bool
	for _, body := range p.graphqlSince(m) {
		mutated = mutated || strings.Contains(body, "updateMember")
	}
	if !mutated {
		t.Errorf("no POST /graphql with updateMember after the change")
	}
	if p.exists("#error") && p.text("#error") != "" {
		t.Errorf("#error = %q after a successful change", p.text("#error"))
	}
	if got := eval[string](p, `document.querySelector(`+js(sel)+`).value`); got != "ADMIN" {
		t.Errorf("bob's role select = %q after the change, want ADMIN", got)
	}
	p.axe("the Users tab after a role change")
	if got := memberRole(e, "bob"); got != "ADMIN" {
		t.Errorf("the API says bob's role is %s, want ADMIN", got)
	}
	p.open("/org/dashboard?org=acme")
	p.waitUsers()
	p.waitFor(sel)
	if got := eval[string](p, `document.querySelector(`+js(sel)+`).value`); got != "ADMIN" {
		t.Errorf("bob's role select = %q after a reload, want ADMIN", got)
	}

	// carol, a member, sees herself only, without an admin's controls.
	q := e.newPage(t)
	q.signIn("carol", e.key("carol"), "/org/dashboard?org=acme")
	if rows := q.waitUsers(); !slices.Equal(rows, []string{"carol"}) {
		t.Errorf("rows a member sees = %v, want [carol] (what the API shows a member)", rows)
	}
	for _, s := range []string{"select.role-select", "select.seat-select", "select.weave-select", "button.row-menu"} {
		if q.exists(s) {
			t.Errorf("a member's page has %s", s)
		}
	}
	q.axe("the Users tab as a member")
}

// memberRole returns username's role in acme according to the API.
func memberRole(e *env, username string) string {
	e.t.Helper()
	var data struct {
		Organization struct {
			Users struct {
				Nodes []struct{ Username, Role string }
			}
		}
	}
	e.gql("admin", `query($u: String) { organization(name: "acme") { users(first: 5, filter: {search: $u}) { nodes { username role } } } }`,
		map[string]any{"u": username}, &data)
	for _, n := range data.Organization.Users.Nodes {
		if n.Username == username {
			return n.Role
		}
	}
	return ""
}
