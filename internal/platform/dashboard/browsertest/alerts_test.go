package browsertest_test

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/notify"
	"github.com/auditgraph/auditgraph/notify/webhook"
)

// TestAlertsSlackInstall: the instance admin registers the Slack app on the
// page (the secret is write-only: the page says only that one is set) and
// reads the redirect URL; acme's admin presses Add to Slack, allows the app
// on (slacktest's) Slack, lands on the callback's page, goes back, and finds
// the channel listed; a test alert reaches the channel and shows in its
// delivery history.
func TestAlertsSlackInstall(t *testing.T) {
	t.Parallel()
	slack := newSlackFake(t)
	e := newAlertsEnv(t, slack)

	// The instance admin registers the app.
	a := e.newPage(t)
	a.signIn("admin", adminKey, "")
	a.openAlerts("acme")
	a.waitFor("#slack-app-status")
	if got := a.text("#slack-app-status"); got != "Not registered" {
		t.Errorf("Slack app status = %q, want Not registered", got)
	}
	if got, want := a.text("#slack-redirect-url"), e.url+"/slack/oauth/callback"; got != want {
		t.Errorf("redirect URL on the page = %q, want %q", got, want)
	}
	a.axe("the alerts page of an instance admin, no Slack app")
	a.typeInto("#slack-client-id", alertsClientID)
	a.typeInto("#slack-client-secret", alertsClientSecret)
	a.clickCentered("#slack-app-save")
	a.waitText("#slack-app-status", "Registered")
	if got := a.text("#slack-app-secret"); got != "Set (never shown)" {
		t.Errorf("client secret shows as %q, want Set (never shown)", got)
	}
	if v := eval[string](a, `document.querySelector("#slack-client-secret").value`); v != "" {
		t.Errorf("the secret field still holds %q after saving", v)
	}
	a.open("/org/dashboard?org=acme&tab=alerts") // fresh from the API
	a.waitText("#slack-app-client-id", alertsClientID)
	if html := eval[string](a, `document.documentElement.outerHTML`); strings.Contains(html, alertsClientSecret) {
		t.Errorf("the page holds the client secret")
	}

	// acme's admin installs it.
	p := e.newPage(t)
	p.allowOrigin(slack.authorizeURL())
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme&tab=alerts")
	p.waitAlerts()
	if p.exists("#slack-app") {
		t.Errorf("an organization admin sees the instance's Slack app settings")
	}
	p.waitFor("#integrations-empty")
	p.axe("the alerts page, nothing connected")
	p.clickCentered("#add-to-slack")
	until[bool](p, "Slack's authorize page", `location.pathname === "/oauth/v2/authorize" && !!document.querySelector("#slack-allow")`)
	q := slackAuthorizeQuery(slack)
	if q.Get("client_id") != alertsClientID || q.Get("scope") != "incoming-webhook" || q.Get("redirect_uri") != e.url+"/slack/oauth/callback" || q.Get("state") == "" {
		t.Errorf("Add to Slack went to Slack with %v", q)
	}
	p.click("#slack-allow")
	until[bool](p, "the callback's page", `location.pathname === "/slack/oauth/callback" && document.querySelector("h1") &&
		document.querySelector("h1").innerText === "Slack connected"`)
	if body := p.bodyText(); !strings.Contains(body, "#alerts") || !strings.Contains(body, "Acme") || !strings.Contains(body, "acme") {
		t.Errorf("callback page: %s", body)
	}
	p.axe("the Slack callback's page, connected")
	if n := slack.exchanges.Load(); n != 1 {
		t.Errorf("Slack's oauth.v2.access was called %d times, want 1", n)
	}
	p.click("#back")
	p.waitPath("/org/dashboard")
	p.waitAlerts()
	li := p.integrationText("#alerts (Acme)")
	if !strings.Contains(li, "Slack: #alerts in Acme") || !strings.Contains(li, "OK") || !strings.Contains(li, "never") {
		t.Errorf("the Slack integration shows as %q, want Slack: #alerts in Acme, OK, last delivery never", li)
	}
	if html := eval[string](p, `document.documentElement.outerHTML`); strings.Contains(html, "xH00kS3cretPart") {
		t.Errorf("the page holds the incoming webhook's URL")
	}

	// A test alert reaches the channel and shows in the history.
	p.clickCentered(integrationSel("#alerts (Acme)") + " button.test-alert")
	until[bool](p, "the test alert delivered in the history", `(() => {
		const r = document.querySelector(`+js(integrationSel("#alerts (Acme)")+` table.deliveries tr[data-rule="Test alert"]`)+`);
		return r && r.dataset.status === "DELIVERED"; })()`)
	if n := slack.posts.Load(); n != 1 {
		t.Errorf("the Slack webhook got %d posts, want 1", n)
	}
	p.clickCentered("#alerts-refresh")
	p.waitAlerts()
	if got := p.text(integrationSel("#alerts (Acme)") + " .last-delivery"); !strings.HasSuffix(got, "UTC") {
		t.Errorf("last delivery after the test alert = %q, want a time", got)
	}
	p.axe("the alerts page with a Slack channel and its history")
	p.screenshot("alerts")
}

// TestAlertsInstallRefusedInAnotherBrowser: the link Slack sends back,
// opened in another browser (no install cookie), is refused on the page,
// in words, with how to start again, and Slack is not called; the browser
// that started the install still finishes it.
func TestAlertsInstallRefusedInAnotherBrowser(t *testing.T) {
	t.Parallel()
	slack := newSlackFake(t)
	e := newAlertsEnv(t, slack)
	e.gql("admin", `mutation($id: String!, $s: String!) { setSlackApp(clientId: $id, clientSecret: $s) { configured } }`,
		map[string]any{"id": alertsClientID, "s": alertsClientSecret}, &struct{}{})

	p := e.newPage(t)
	p.allowOrigin(slack.authorizeURL())
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme&tab=alerts")
	p.waitAlerts()
	p.clickCentered("#add-to-slack")
	until[bool](p, "Slack's authorize page", `!!document.querySelector("#slack-allow")`)
	back := eval[string](p, `document.querySelector("#slack-allow").href`)

	// Another browser context, even signed in as alice, holds no install
	// cookie.
	other := e.newPage(t)
	other.signIn("alice", e.key("alice"), "")
	other.visitURL(back)
	until[bool](other, "the refusal", `document.querySelector("h1") && document.querySelector("h1").innerText === "Slack was not connected"`)
	reason := other.text("#reason")
	if !strings.Contains(reason, "not from this browser") || !strings.Contains(reason, "start the install again") {
		t.Errorf("refusal reason = %q", reason)
	}
	steps := other.text("#start-again")
	if !strings.Contains(steps, "Add to Slack") || !strings.Contains(steps, "in this browser") {
		t.Errorf("how to start again = %q", steps)
	}
	if body := other.bodyText(); !strings.Contains(body, "Nothing was sent to Slack") || strings.Contains(body, "acme") {
		t.Errorf("refusal page: %s (want: nothing was sent to Slack, no organization named)", body)
	}
	other.axe("the Slack callback's refusal")
	other.colorScheme("dark")
	other.axe("the Slack callback's refusal, dark")
	if n := slack.exchanges.Load(); n != 0 {
		t.Errorf("Slack's oauth.v2.access was called %d times for the refused callback, want 0", n)
	}
	if n := e.count(`SELECT count(*) FROM integrations`); n != 0 {
		t.Errorf("%d integrations stored after the refusal, want 0", n)
	}
	// Its link leads to the dashboard's alerts tab, where Add to Slack is.
	other.click("#back")
	other.waitAlerts()
	other.waitFor("#add-to-slack")

	// The browser that started it finishes it.
	p.click("#slack-allow")
	until[bool](p, "connected", `document.querySelector("h1") && document.querySelector("h1").innerText === "Slack connected"`)
	if n := slack.exchanges.Load(); n != 1 {
		t.Errorf("Slack's oauth.v2.access was called %d times, want 1", n)
	}
}

// TestAlertsRuleDelivers: acme's admin adds a webhook (its signing secret
// shown once), creates a threshold rule on the page, and the events ingested
// through POST /api/v1/audit_events fire it; the receiver, down for the
// first attempt, gets the alert signed on the second; the history shows
// the delivery with its attempts, and the integration its last error. The
// rule is then disabled, edited and deleted on the page, and a suggested
// rule enabled in one click.
func TestAlertsRuleDelivers(t *testing.T) {
	t.Parallel()
	e := newAlertsEnv(t, nil)
	rcv := newHookReceiver(t, true)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme&tab=alerts")
	p.waitAlerts()
	if !eval[bool](p, `document.querySelector("#new-rule").disabled`) {
		t.Errorf("New rule is enabled with no integration to deliver to")
	}
	// No Slack app is registered: Add to Slack says so and stays here.
	p.clickCentered("#add-to-slack")
	p.waitText("#add-to-slack-error", "No Slack app is registered on this server yet: ask an instance admin to register one.")
	p.waitPath("/org/dashboard")

	// The webhook, with its secret shown once.
	p.clickCentered("#webhook-add")
	p.waitText("#webhook-error", "Enter a name for the webhook.")
	p.typeInto("#webhook-name", "ops")
	p.typeInto("#webhook-url", rcv.srv.URL+"/hook")
	p.clickCentered("#webhook-add")
	p.waitFor("#webhook-secret-dialog #webhook-secret")
	secret := p.text("#webhook-secret")
	if len(secret) < 16 {
		t.Fatalf("signing secret shown = %q", secret)
	}
	p.axe("the signing secret dialog")
	p.click("#webhook-secret-done")
	p.integrationText("ops")
	if html := eval[string](p, `document.documentElement.outerHTML`); strings.Contains(html, secret) || strings.Contains(html, rcv.srv.URL) {
		t.Errorf("after the dialog closed the page still holds the signing secret or the webhook URL")
	}

	// The rule: 2 failed logins by one actor within 10 minutes.
	p.clickCentered("#new-rule")
	p.waitFor("#rule-dialog #rule-name")
	// The picker offers exactly the server's catalog (Query.auditActions).
	var want []string
	for _, a := range audit.Actions() {
		want = append(want, string(a))
	}
	offered := until[string](p, "the actions picker", `(() => { const els = [...document.querySelectorAll("#rule-dialog input[name=action]")]
		.map(e => e.value).filter(v => !v.endsWith(":*")); return els.length ? els.join(" ") : ""; })()`)
	if offered != strings.Join(want, " ") {
		t.Errorf("the actions picker offers %s,\nthe server's catalog is %s", offered, strings.Join(want, " "))
	}
	p.axe("the new rule dialog")
	p.click("#rule-save")
	p.waitText("#rule-error", "Give the rule a name.")
	p.typeInto("#rule-name", "Login failures")
	p.clickCentered(`#rule-dialog input[name=action][value="user:login"]`)
	p.typeInto("#rule-codes", "401, 403")
	p.typeInto("#rule-threshold", "2")
	if v := eval[string](p, `document.querySelector("#rule-window").value + " " + document.querySelector("#rule-window-unit").value`); v != "10 60" {
		t.Errorf("window defaults to %q, want 10 minutes", v)
	}
	if !eval[bool](p, `document.querySelector('#rule-dialog input[name=integration][data-name="ops"]').checked`) {
		t.Errorf("the only integration is not preselected")
	}
	p.click("#rule-save")
	until[bool](p, "the rule listed", `!!document.querySelector('#rules-table tr[data-rule="Login failures"]')`)
	if got := p.text(`#rules-table tr[data-rule="Login failures"] .conditions`); got != "user:login; response 401 or 403; 2 by one actor within 10 minutes" {
		t.Errorf("rule conditions = %q", got)
	}
	var rules struct {
		Organization struct {
			AlertRules struct {
				Edges []struct {
					Node struct {
						Name          string
						Actions       []string
						ResponseCodes []int
						Threshold     *int
						WindowSeconds *int
						Enabled       bool
						Integrations  []struct{ Name string }
					}
				}
			}
		}
	}
	e.gql("alice", `{ organization(name: "acme") { alertRules { edges { node { name actions responseCodes threshold windowSeconds enabled integrations { name } } } } } }`, nil, &rules)
	if es := rules.Organization.AlertRules.Edges; len(es) != 1 || !slices.Equal(es[0].Node.Actions, []string{"user:login"}) ||
		!slices.Equal(es[0].Node.ResponseCodes, []int{401, 403}) || es[0].Node.Threshold == nil || *es[0].Node.Threshold != 2 ||
		es[0].Node.WindowSeconds == nil || *es[0].Node.WindowSeconds != 600 || !es[0].Node.Enabled || len(es[0].Node.Integrations) != 1 {
		t.Errorf("stored rules = %+v", es)
	}

	// Events fire it: one failed login is not enough, the second is. The
	// receiver is down at first: the history shows the alert pending, its
	// failed attempts, their error and the next retry.
	login := `{"action":"user:login","actor_email":"mallory@example.com","response_code":401}`
	e.alertsIngest("alice", "acme", login, `{"action":"user:login","actor_email":"mallory@example.com","response_code":200}`)
	e.alertsIngest("alice", "acme", login)
	alertsWait(t, "the receiver's first request", func() bool { return len(rcv.received()) >= 1 })
	p.clickCentered("#alerts-refresh")
	p.waitAlerts()
	p.clickCentered(integrationSel("ops") + " button.history-toggle")
	row := integrationSel("ops") + ` table.deliveries tr[data-rule="Login failures"]`
	pending := until[string](p, "the alert pending after a failed attempt", `(() => { const r = document.querySelector(`+js(row)+`);
		return r && r.dataset.status === "PENDING" && Number(r.querySelector(".attempts").innerText) >= 1 &&
			r.querySelector(".next-retry time") && r.innerText; })()`)
	if !strings.Contains(pending, "503") {
		t.Errorf("the pending alert's row %q does not show the 503", pending)
	}
	if txt := p.text(integrationSel("ops") + " .last-error"); !strings.Contains(txt, "503") {
		t.Errorf("the integration's last error = %q, want the 503", txt)
	}
	rcv.down.Store(false)
	until[bool](p, "the delivery in the history", `(() => { const r = document.querySelector(`+js(row)+`); return r && r.dataset.status === "DELIVERED"; })()`)
	got := rcv.received()
	last := got[len(got)-1]
	if n := p.text(row + " .attempts"); n != strconv.Itoa(len(got)) || len(got) < 2 || last.refused {
		t.Errorf("attempts in the history = %s; the receiver got %d requests, want them all counted, the last accepted", n, len(got))
	}
	if err := webhook.Verify(notify.NewSecret(secret), last.timestamp, last.body, last.signature, time.Now(), 5*time.Minute); err != nil {
		t.Errorf("the alert is not signed with the secret the page showed: %v", err)
	}
	if !strings.Contains(string(last.body), "Login failures") {
		t.Errorf("alert body %s, want it to name the rule", last.body)
	}
	var ev struct {
		Organization struct {
			AuditEvents struct{ Nodes []struct{ Sequence int } }
		}
	}
	e.gql("alice", `{ organization(name: "acme") { auditEvents(first: 1, filter: {actions: ["user:login"], actor: "mallory@example.com", responseCodeMin: 401}) { nodes { sequence } } } }`, nil, &ev)
	if ns := ev.Organization.AuditEvents.Nodes; len(ns) != 1 || eval[string](p, `document.querySelector(`+js(row)+`).dataset.sequence`) != strconv.Itoa(ns[0].Sequence) {
		t.Errorf("the delivery's event is #%s, want the second failed login (%+v)", eval[string](p, `document.querySelector(`+js(row)+`).dataset.sequence`), ns)
	}
	p.clickCentered("#alerts-refresh")
	p.waitAlerts()
	if txt := p.text(integrationSel("ops") + " .delivered"); txt != "1" {
		t.Errorf("delivered = %s, want 1", txt)
	}
	if txt := p.text(integrationSel("ops") + " .last-delivery"); !strings.HasSuffix(txt, "UTC") {
		t.Errorf("last delivery = %q, want a time", txt)
	}
	p.axe("the alerts page with a rule and a delivery")

	// Disable, edit, delete.
	p.clickCentered(`#rules-table tr[data-rule="Login failures"] input.rule-enabled`)
	until[bool](p, "the rule disabled", `document.querySelector('#rules-table tr[data-rule="Login failures"]').dataset.enabled === "false"`)
	p.clickCentered(`#rules-table tr[data-rule="Login failures"] button.rule-edit`)
	p.waitFor("#rule-dialog #rule-name")
	if v := eval[string](p, `document.querySelector("#rule-threshold").value + "/" + document.querySelector("#rule-codes").value + "/" + document.querySelector("#rule-enabled").checked`); v != "2/401, 403/false" {
		t.Errorf("edit dialog opens with %q", v)
	}
	p.clearField("#rule-threshold")
	p.clickCentered(`#rule-dialog input[name=action][value="team:*"]`)
	p.click("#rule-save")
	until[bool](p, "the edited rule", `(() => { const r = document.querySelector('#rules-table tr[data-rule="Login failures"] .conditions');
		return r && r.innerText === "user:login, team:*; response 401 or 403; every event"; })()`)
	p.clickCentered(`#rules-table tr[data-rule="Login failures"] button.rule-delete`)
	p.click("#alerts-confirm-ok")
	p.waitFor("#rules-empty")

	// A suggestion in one click.
	p.clickCentered(`button.suggestion-enable[data-suggestion="USER_DEACTIVATED"]`)
	until[bool](p, "the suggested rule", `!!document.querySelector('#rules-table tr[data-rule="User deactivated"]') &&
		!!document.querySelector('#suggestions li[data-suggestion="USER_DEACTIVATED"] .suggestion-on')`)

	// Disconnect.
	p.clickCentered(integrationSel("ops") + " button.disconnect")
	p.click("#alerts-confirm-ok")
	p.waitFor("#integrations-empty")
	p.clickCentered("#show-disconnected")
	if txt := p.integrationText("ops"); !strings.Contains(txt, "Disconnected") {
		t.Errorf("disconnected integration shows as %q", txt)
	}

	// The change log lists them, newest first.
	until[bool](p, "the changes listed", `(() => { const li = [...document.querySelectorAll("#config-changes li")].map(l => l.dataset.action);
		return li[0] === "integration:disconnect" && li.includes("alert_rule:create") && li.includes("integration:connect"); })()`)
	if first := p.text("#config-changes li"); !strings.Contains(first, "alice disconnected ops") {
		t.Errorf("newest change = %q, want alice disconnected ops", first)
	}

	// Phone width, dark.
	p.viewport(phoneW, phoneH, true)
	p.colorScheme("dark")
	// The page's own content fits (tables scroll in their regions); the
	// shell's tab bar is the shell's.
	if over := eval[string](p, `[...document.querySelectorAll("#alerts-page *")]
		.filter(el => !el.closest(".table-scroll") && el.getBoundingClientRect().right > `+strconv.Itoa(phoneW)+`)
		.slice(0, 5).map(el => el.tagName + "." + el.className + " " + Math.round(el.getBoundingClientRect().right)).join("; ")`); over != "" {
		t.Errorf("at phone width %d the alerts page runs out of the window: %s", phoneW, over)
	}
	p.axe("the alerts page, phone width, dark")
}

// TestAlertsMultiTenant: in multi-tenant mode the page is
// /account-settings/<org>/alerts, and the Slack callback's page leads back
// to it.
func TestAlertsMultiTenant(t *testing.T) {
	t.Parallel()
	slack := newSlackFake(t)
	e := newAlertsEnvIn(t, slack, deployment.MultiTenant)
	e.gql("admin", `mutation($id: String!, $s: String!) { setSlackApp(clientId: $id, clientSecret: $s) { configured } }`,
		map[string]any{"id": alertsClientID, "s": alertsClientSecret}, &struct{}{})
	p := e.newPage(t)
	p.allowOrigin(slack.authorizeURL())
	p.signIn("alice", e.key("alice"), "/account-settings/acme/alerts")
	p.waitPath("/account-settings/acme/alerts")
	p.waitAlerts()
	if cur := eval[string](p, `document.querySelector("#nav-alerts").getAttribute("aria-current") || ""`); cur != "page" {
		t.Errorf("#nav-alerts aria-current = %q, want page", cur)
	}
	p.clickCentered("#add-to-slack")
	p.click("#slack-allow")
	until[bool](p, "connected", `document.querySelector("h1") && document.querySelector("h1").innerText === "Slack connected"`)
	p.click("#back")
	p.waitPath("/account-settings/acme/alerts")
	p.waitAlerts()
	if li := p.integrationText("#alerts (Acme)"); !strings.Contains(li, "Slack: #alerts in Acme") {
		t.Errorf("the Slack integration shows as %q", li)
	}
	p.axe("the multi-tenant alerts page")
}

// TestAlertsMember: a member who is not an admin sees a note and the page
// sends no request for alerts or integrations.
func TestAlertsMember(t *testing.T) {
	t.Parallel()
	e := newAlertsEnv(t, nil)
	p := e.newPage(t)
	p.signIn("bob", e.key("bob"), "")
	m := p.mark()
	p.open("/org/dashboard?org=acme&tab=alerts")
	p.waitFor("#alerts-admins-only")
	if txt := p.text("#alerts-admins-only"); !strings.Contains(txt, "managed by its admins") {
		t.Errorf("member's note = %q", txt)
	}
	time.Sleep(300 * time.Millisecond)
	for _, body := range p.graphqlSince(m) {
		if strings.Contains(body, "Alerts") || strings.Contains(body, "integrations") || strings.Contains(body, "slackApp") {
			t.Errorf("a member's alerts page sent %s", body)
		}
	}
	if p.exists("#error:not(.empty)") {
		t.Errorf("the member's page shows an error: %s", p.text("#error"))
	}
	p.axe("the alerts page of a member")
}

// alertsWait waits until cond holds.
func alertsWait(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not within %s", what, wait)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// slackAuthorizeQuery is the query the fake Slack's authorize page got last.
func slackAuthorizeQuery(f *slackFake) url.Values {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.authorizeQuery
}
