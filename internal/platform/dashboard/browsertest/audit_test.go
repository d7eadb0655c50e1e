package browsertest_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// auditPath is acme's Audit log page (self-managed) with extra parameters.
func auditPath(extra string) string {
	p := "/org/dashboard?org=acme&tab=audit-log"
	if extra != "" {
		p += "&" + extra
	}
	return p
}

// newAuditAcme returns a self-managed server with the live hub and acme:
// its admin alice and member bob, and events of today and yesterday.
func newAuditAcme(t *testing.T) (*env, *liveServer) {
	t.Helper()
	e, ls := newAuditEnv(t, deployment.SelfManaged)
	e.org("acme",
		person{username: "alice", name: "Alice Admin", role: "admin"},
		person{username: "bob", name: "Bob Builder"},
	)
	now := time.Now().UTC()
	var b strings.Builder
	for i, ev := range []struct{ action, actor string }{
		{"user:login", "bob@example.com"}, {"run:update", "bob@example.com"}, {"project:read", "carol@example.com"},
		{"user:login", "carol@example.com"}, {"artifact:read", "bob@example.com"}, {"run:stop", "carol@example.com"},
		{"user:logout", "bob@example.com"}, {"user:login", "dave@example.com"},
	} {
		at := now.Add(-time.Duration(i+1) * 7 * time.Minute)
		if i%2 == 1 {
			at = at.Add(-24 * time.Hour) // yesterday's too
		}
		fmt.Fprintf(&b, `{"action":%q,"actor_email":%q,"actor_ip":"10.0.0.%d","project_name":"p%d","response_code":%d,"timestamp":%q}`+"\n",
			ev.action, ev.actor, i, i, 200+i%2*201, at.Format(time.RFC3339))
	}
	e.auditIngest("acme", b.String())
	return e, ls
}

// auditRows returns the sequences of the Audit log table's rows, top down.
func (p *page) auditRows() []int {
	p.t.Helper()
	return eval[[]int](p, `[...document.querySelectorAll("#audit-table tr[data-seq]")].map(r => +r.dataset.seq)`)
}

// waitAuditLoaded waits until the Audit log page has drawn its list (rows
// or the empty state).
func (p *page) waitAuditLoaded() {
	p.t.Helper()
	until[bool](p, "the audit log's list", `(() => { const l = document.querySelector(".audit-log");
		return l && l.getAttribute("aria-busy") === "false" && !!document.querySelector("#audit-count"); })()`)
}

// apiEvents returns the sequences and JSON of acme's events matching the
// GraphQL filter, newest first, as alice.
func apiEvents(e *env, filter string) (seqs []int, jsons []string) {
	e.t.Helper()
	var after *string
	for {
		var d struct {
			Organization struct {
				AuditEvents struct {
					Nodes []struct {
						Sequence int
						JSON     string `json:"json"`
					}
					PageInfo struct {
						HasNextPage bool
						EndCursor   *string
					}
				}
			}
		}
		e.gql("alice", `query($after: String) { organization(name: "acme") { auditEvents(first: 100, after: $after, filter: {`+filter+`}) {
			nodes { sequence json } pageInfo { hasNextPage endCursor } } } }`, map[string]any{"after": after}, &d)
		for _, n := range d.Organization.AuditEvents.Nodes {
			seqs = append(seqs, n.Sequence)
			jsons = append(jsons, n.JSON)
		}
		if !d.Organization.AuditEvents.PageInfo.HasNextPage {
			return seqs, jsons
		}
		after = d.Organization.AuditEvents.PageInfo.EndCursor
	}
}

// TestAuditLogFilterByAction: choosing actions shows only their events
// (as the API lists them), the address holds the filter, and the address
// opened in another browser shows the same; a row expands to the event as
// the REST API writes it. axe-core runs on the page, the picker open and a
// row expanded, light and dark, and at phone width.
func TestAuditLogFilterByAction(t *testing.T) {
	e, _ := newAuditAcme(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), auditPath(""))
	p.waitAuditLoaded()
	all, _ := apiEvents(e, `numDays: 7`)
	if got := p.auditRows(); !slices.Equal(got, all) {
		t.Fatalf("rows = %v, want the API's %v (newest first)", got, all)
	}
	p.axe("the audit log")

	p.click("#audit-actions")
	p.waitFor(`#audit-actions-panel input[value="user:login"]`)
	groups := eval[[]string](p, `[...document.querySelectorAll("#audit-actions-panel input[data-kind]")].map(i => i.dataset.kind)`)
	if !slices.Equal(groups, []string{"artifact", "project", "report", "run", "sweep", "team", "user"}) {
		t.Errorf("action groups = %v", groups)
	}
	p.axe("the audit log, actions picker open")
	p.click(`#audit-actions-panel input[value="user:login"]`)
	p.click(`#audit-actions-panel input[value="run:stop"]`)
	want, _ := apiEvents(e, `numDays: 7, actions: ["run:stop", "user:login"]`)
	if len(want) < 4 { // 3 ingested logins, alice's sign-in and run:stop
		t.Fatalf("API: %d user:login and run:stop events, want at least 4", len(want))
	}
	until[bool](p, "only user:login and run:stop rows", `(() => {
		const rows = [...document.querySelectorAll("#audit-table tr[data-seq]")];
		return rows.length === `+fmt.Sprint(len(want))+` && rows.every(r => r.dataset.action === "user:login" || r.dataset.action === "run:stop"); })()`)
	if got := p.auditRows(); !slices.Equal(got, want) {
		t.Errorf("filtered rows = %v, want %v", got, want)
	}
	u, err := url.Parse(p.location())
	if err != nil {
		t.Fatal(err)
	}
	if q := u.Query(); q.Get("actions") != "run:stop,user:login" || q.Get("org") != "acme" || q.Get("tab") != "audit-log" {
		t.Errorf("address %s: want org=acme, tab=audit-log and actions=run:stop,user:login", u.RequestURI())
	}

	// Expand the newest row: the REST API's line, byte for byte.
	p.press(kb.Escape)
	until[bool](p, "the picker closed, focus on its button", `document.querySelector("#audit-actions-panel").hidden && document.activeElement.id === "audit-actions"`)
	p.click(`#audit-table tr[data-seq] button.audit-expand`)
	p.waitFor(`#audit-table tr.audit-json-row pre`)
	code, body := e.get("/admin/audit_logs?org=acme&numDays=7", "alice")
	if code != 200 {
		t.Fatalf("GET /admin/audit_logs = %d %s", code, body)
	}
	shown := p.text(`#audit-table tr.audit-json-row pre`)
	if !slices.Contains(strings.Split(strings.TrimSpace(string(body)), "\n"), shown) {
		t.Errorf("expanded row %s is not a line of GET /admin/audit_logs", shown)
	}
	p.axe("the audit log, filtered, a row expanded")
	p.colorScheme("dark")
	p.axe("the audit log, dark")
	p.colorScheme("light")
	p.screenshot("audit-log")

	// The address reproduces the view in another browser.
	q := p.newPageFor(t, "alice", u.RequestURI())
	q.waitAuditLoaded()
	want, _ = apiEvents(e, `numDays: 7, actions: ["run:stop", "user:login"]`) // with this sign-in's
	if got := q.auditRows(); !slices.Equal(got, want) {
		t.Errorf("the address %s in another browser: rows = %v, want %v", u.RequestURI(), got, want)
	}
	if checked := eval[[]string](q, `(document.querySelector("#audit-actions").click(),
		[...document.querySelectorAll("#audit-actions-panel input[name=action]:checked")].map(i => i.value))`); !slices.Equal(checked, []string{"run:stop", "user:login"}) {
		t.Errorf("the address in another browser: checked actions %v", checked)
	}

	// Other conditions go to the address and the list too.
	q.typeInto("#audit-actor", "dave@example.com")
	q.pressEnter()
	until[bool](q, "dave's one login", `document.querySelectorAll("#audit-table tr[data-seq]").length === 1`)
	if !strings.Contains(q.path(), "actor=dave%40example.com") {
		t.Errorf("address %s: want actor=dave%%40example.com", q.path())
	}
	q.viewport(phoneW, phoneH, true)
	q.axe("the audit log at phone width")
	// The page's own parts fit (the table scrolls sideways in its box).
	if wide := eval[[]string](q, `[".audit-log", ".audit-filters", ".audit-toolbar", ".table-scroll"].filter(s => {
		const el = document.querySelector(s); return !el || el.getBoundingClientRect().right > `+fmt.Sprint(phoneW+1)+`; })`); len(wide) > 0 {
		t.Errorf("at phone width these are missing or wider than the screen: %v", wide)
	}
	// And nothing widens the document: the table scrolls inside its frame.
	if w := eval[int](q, `document.documentElement.scrollWidth`); w > phoneW {
		t.Errorf("at phone width the document is %dpx wide, want at most %d", w, phoneW)
	}
}

// newPageFor is a new browser signed in as username, at path.
func (p *page) newPageFor(t *testing.T, username, path string) *page {
	t.Helper()
	q := p.e.newPage(t)
	q.signIn(username, p.e.key(username), path)
	return q
}

// TestAuditLogLive: with Live on, an event ingested through POST
// /api/v1/audit_events appears on top; scrolled away, it waits behind the
// "N new events" bar.
func TestAuditLogLive(t *testing.T) {
	e, _ := newAuditAcme(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), auditPath(""))
	p.waitAuditLoaded()
	p.click("#audit-live")
	until[bool](p, "live", `document.querySelector("#audit-live-status").dataset.state === "live"`)
	if !strings.Contains(p.path(), "live=true") {
		t.Errorf("address %s: want live=true", p.path())
	}
	before := p.auditRows()
	e.auditIngest("acme", `{"action":"team:create","actor_email":"live@example.com","entity_name":"fresh"}`+"\n")
	until[bool](p, "the ingested event on top", `(() => { const r = document.querySelector("#audit-table tr[data-seq]");
		return r && r.dataset.action === "team:create"; })()`)
	rows := p.auditRows()
	if len(rows) != len(before)+1 || !slices.Equal(rows[1:], before) {
		t.Errorf("rows after the live event = %v, want it on top of %v", rows, before)
	}
	p.axe("the audit log, live")

	// Scrolled away from the top: a bar, then the event on top.
	var b strings.Builder
	for i := range 60 {
		fmt.Fprintf(&b, `{"action":"run:update","cli_version":"fill-%d"}`+"\n", i)
	}
	e.auditIngest("acme", b.String())
	until[bool](p, "the 60 events on top", `document.querySelectorAll("#audit-table tr[data-seq]").length === `+fmt.Sprint(len(rows)+60))
	p.do(chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, document.body.scrollHeight)`))
	until[bool](p, "scrolled", `window.scrollY > 300`)
	e.auditIngest("acme", `{"action":"team:delete","entity_name":"gone"}`+"\n"+`{"action":"team:delete","entity_name":"gone2"}`+"\n")
	until[string](p, "the new events bar", `(document.querySelector("#audit-new-events") || {}).textContent`)
	if got := p.text("#audit-new-events"); !strings.HasPrefix(got, "2 new events") {
		t.Errorf("bar = %q, want 2 new events", got)
	}
	if top := eval[string](p, `document.querySelector("#audit-table tr[data-seq]").dataset.action`); top == "team:delete" {
		t.Error("events shown on top while scrolled away")
	}
	p.axe("the audit log, new events bar")
	p.click("#audit-new-events")
	until[bool](p, "the two on top", `[...document.querySelectorAll("#audit-table tr[data-seq]")].slice(0, 2).every(r => r.dataset.action === "team:delete")`)
	if p.exists("#audit-new-events") {
		t.Error("the bar stays after showing the events")
	}
	checkAuditRowsOnce(t, p)
}

// checkAuditRowsOnce fails the test when a sequence shows twice, or rows
// are not in the API's order of the same events.
func checkAuditRowsOnce(t *testing.T, p *page) {
	t.Helper()
	rows := p.auditRows()
	seen := map[int]bool{}
	for _, s := range rows {
		if seen[s] {
			t.Errorf("event %d shown twice: %v", s, rows)
		}
		seen[s] = true
	}
}

// TestAuditLogLiveRestart: the server stops while the live view is open,
// events are stored meanwhile (by another replica) and after, the server
// starts again on the same address: the page reconnects and shows every
// event of the window once, in the API's order.
func TestAuditLogLiveRestart(t *testing.T) {
	e, ls := newAuditAcme(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), auditPath("live=true"))
	p.waitAuditLoaded()
	until[bool](p, "live", `document.querySelector("#audit-live-status").dataset.state === "live"`)
	e.auditIngest("acme", `{"action":"run:update","cli_version":"before"}`+"\n")
	until[bool](p, "the first live event", `document.querySelector("#audit-table tr[data-seq]").dataset.action === "run:update"`)

	ls.stop()
	until[bool](p, "the page noticing", `["waiting", "connecting"].includes(document.querySelector("#audit-live-status").dataset.state)`)
	other := e.auditReplica()
	var b strings.Builder
	for i := range 5 {
		fmt.Fprintf(&b, `{"action":"team:invite_user","cli_version":"down-%d"}`+"\n", i)
	}
	e.auditIngestAt(other, "acme", b.String())
	ls.start(nil)
	until[bool](p, "live again", `document.querySelector("#audit-live-status").dataset.state === "live"`)
	e.auditIngest("acme", `{"action":"run:stop","cli_version":"after"}`+"\n")

	want, _ := apiEvents(e, `numDays: 7`)
	// Every event of the window, each once. Where a gap read places an
	// event among live ones depends on when it lands, so the order is only
	// logged when it differs from the API's.
	sorted := slices.Sorted(slices.Values(want))
	until[bool](p, "every event once", `[...document.querySelectorAll("#audit-table tr[data-seq]")].map(r => +r.dataset.seq).sort((a, b) => a - b).join(",") === `+js(joinInts(sorted)))
	// A while later, still once each (late gap reads add nothing).
	time.Sleep(2 * time.Second)
	if got := p.auditRows(); !slices.Equal(slices.Sorted(slices.Values(got)), sorted) {
		t.Errorf("rows = %v, want each of %v once", got, want)
	} else if !slices.Equal(got, want) {
		t.Logf("rows in live order %v; the API's order is %v", got, want)
	}
	checkAuditRowsOnce(t, p)
}

// TestAuditLogLiveTooSlow: a live view that falls behind is dropped with
// SUBSCRIBER_TOO_SLOW; it subscribes again and reads what it missed, so
// every event shows once.
func TestAuditLogLiveTooSlow(t *testing.T) {
	e, ls := newAuditAcme(t)
	ls.buffer = 2
	ls.restart()
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), auditPath("live=true"))
	p.waitAuditLoaded()
	until[bool](p, "live", `document.querySelector("#audit-live-status").dataset.state === "live"`)
	p.do(chromedp.Evaluate[chromedp.Void](`window.__liveSaid = []; new MutationObserver(() =>
		window.__liveSaid.push(document.querySelector("#audit-live-status").textContent)).observe(
		document.querySelector("#audit-live-status"), {subtree: true, childList: true, characterData: true}); undefined`))
	var b strings.Builder
	for i := range 300 {
		fmt.Fprintf(&b, `{"action":"run:update","cli_version":"burst-%d"}`+"\n", i)
	}
	e.auditIngest("acme", b.String())
	want, _ := apiEvents(e, `numDays: 7`)
	until[bool](p, "every event once", `[...document.querySelectorAll("#audit-table tr[data-seq]")].map(r => r.dataset.seq).join(",") === `+js(joinInts(want)))
	said := eval[[]string](p, `window.__liveSaid`)
	if !slices.ContainsFunc(said, func(s string) bool { return strings.Contains(s, "too slow") }) {
		t.Logf("the live view was not dropped as too slow this time (it said %q)", said)
	}
	checkAuditRowsOnce(t, p)
}

func joinInts(s []int) string {
	b := make([]string, len(s))
	for i, v := range s {
		b[i] = fmt.Sprint(v)
	}
	return strings.Join(b, ",")
}

// TestAuditLogDownload: the download is GET /admin/audit_logs of the same
// window, byte for byte, anonymized when the toggle is on; the curl
// command names the same request and no key.
func TestAuditLogDownload(t *testing.T) {
	e, _ := newAuditAcme(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), auditPath("numDays=3&anonymize=true"))
	p.waitAuditLoaded()
	if !eval[bool](p, `document.querySelector("#audit-anonymize").checked`) {
		t.Error("anonymize=true in the address: the toggle is off")
	}
	href := eval[string](p, `document.querySelector("#audit-download").getAttribute("href")`)
	today := time.Now().UTC().Format(time.DateOnly)
	if wantHref := "/admin/audit_logs?org=acme&startDate=" + today + "&numDays=3&anonymize=true"; href != wantHref {
		t.Errorf("download link %s, want %s", href, wantHref)
	}
	p.click("#audit-download")
	got := p.download()
	code, want := e.get(href, "alice")
	if code != 200 || len(want) == 0 {
		t.Fatalf("GET %s = %d %s", href, code, want)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("download:\n%s\nwant GET %s:\n%s", got, href, want)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(got)), "\n") {
		var ev map[string]any
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("download line %q: %v", line, err)
		}
		if _, ok := ev["actor_email"]; ok {
			t.Errorf("anonymized download holds actor_email: %s", line)
		}
	}

	// Copy as curl: the same request, credentials as variables.
	p.do(chromedp.Evaluate[chromedp.Void](`window.__copied = null; document.execCommand = (c) => { window.__copied = document.activeElement.value; return true; };
		Object.defineProperty(window, "isSecureContext", {value: false}); undefined`))
	p.click("#audit-copy-curl")
	curl := until[string](p, "the copied command", `window.__copied`)
	wantCurl := `curl --fail --compressed -u "$AUDITGRAPH_USERNAME:$AUDITGRAPH_API_KEY" '` + e.url + href + `'`
	if curl != wantCurl {
		t.Errorf("copied %s\nwant %s", curl, wantCurl)
	}
	if strings.Contains(curl, e.key("alice")) || strings.Contains(curl, adminKey) {
		t.Error("the curl command holds a key")
	}
}

// TestAuditLogMember: a member who is not an admin sees a note and the
// page asks the API nothing about the log beyond the early script's first
// page (sent beside the viewer, before anyone knows the viewer's role, and
// refused: the page never shows it); in multi-tenant, the admin of an
// organization that is not on the Enterprise plan sees why, and an
// Enterprise admin sees the log with anonymize explained as not available.
func TestAuditLogMember(t *testing.T) {
	e, _ := newAuditAcme(t)
	p := e.newPage(t)
	m := p.mark()
	p.signIn("bob", e.key("bob"), auditPath(""))
	p.waitFor("#audit-admins-only")
	early := 0
	for _, q := range p.graphqlSince(m) {
		if strings.Contains(q, "auditEvents") && early == 0 && strings.Contains(q, `"after":null`) {
			early++ // boot.ts's first page
			continue
		}
		if strings.Contains(q, "auditEvents") || strings.Contains(q, "auditActions") {
			t.Errorf("a member's page asked %s", q)
		}
	}
	if p.exists("#audit-table") || p.exists("#audit-download") {
		t.Error("a member sees the log or its download")
	}
	p.axe("the audit log as a member")

	t.Run("multi-tenant", func(t *testing.T) {
		e, _ := newAuditEnv(t, deployment.MultiTenant)
		e.org("acme", person{username: "alice", name: "Alice Admin", role: "admin"}, person{username: "bob", name: "Bob"})
		if _, err := e.ids.CreateOrganization(e.ctx, e.admin, "small", "teams"); err != nil {
			t.Fatal(err)
		}
		e.add("small", person{username: "carol", name: "Carol", role: "admin"})
		e.auditIngest("acme", `{"action":"run:update","actor_email":"bob@example.com"}`+"\n")

		p := e.newPage(t)
		p.signIn("carol", e.key("carol"), "/account-settings/small/audit-log")
		p.waitFor("#audit-enterprise-only")
		if got := p.text("#audit-enterprise-only"); !strings.Contains(got, "Enterprise") {
			t.Errorf("small's admin sees %q", got)
		}

		a := e.newPage(t)
		a.signIn("alice", e.key("alice"), "/account-settings/acme/audit-log?anonymize=true&numDays=30")
		a.waitAuditLoaded()
		if got := len(a.auditRows()); got < 1 {
			t.Errorf("acme's admin sees %d rows", got)
		}
		if !eval[bool](a, `document.querySelector("#audit-anonymize").disabled && !document.querySelector("#audit-anonymize").checked`) {
			t.Error("multi-tenant: anonymize is not shown off and disabled")
		}
		if got := a.text("#audit-anonymize-note"); !strings.Contains(got, "always includes personal data") {
			t.Errorf("anonymize note %q", got)
		}
		if got := eval[string](a, `document.querySelector("#audit-num-days").value`); got != "7" {
			t.Errorf("numDays=30 in multi-tenant shows %s days, want the cap 7", got)
		}
		href := eval[string](a, `document.querySelector("#audit-download").getAttribute("href")`)
		if strings.Contains(href, "anonymize") || !strings.Contains(href, "numDays=7") {
			t.Errorf("multi-tenant download %s, want numDays=7 and no anonymize", href)
		}
		a.axe("the multi-tenant audit log")
	})
}
