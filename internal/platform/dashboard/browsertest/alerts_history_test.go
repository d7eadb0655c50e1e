package browsertest_test

import (
	"strings"
	"testing"
)

// TestAlertsHistoryKeepsPlace: an admin who opened the older pages of an
// integration's delivery history, and of the change log, keeps them (and
// the open history) when the page refreshes: by the Refresh button, and by
// the polling that runs on its own while an alert waits for a retry.
func TestAlertsHistoryKeepsPlace(t *testing.T) {
	t.Parallel()
	e := newAlertsEnv(t, nil)
	rcv := newHookReceiver(t, false)
	var hook struct {
		CreateWebhookIntegration struct{ Integration struct{ ID string } }
	}
	e.gql("alice", `mutation($url: String!) { createWebhookIntegration(organization: "acme", name: "siem", url: $url) { integration { id } } }`,
		map[string]any{"url": rcv.srv.URL + "/hook"}, &hook)
	id := hook.CreateWebhookIntegration.Integration.ID
	const sent = 45 // three pages of the history's 20, five of the change log's 10
	for range sent {
		e.gql("alice", `mutation($id: ID!) { sendTestAlert(integration: $id) { id } }`, map[string]any{"id": id}, &struct{}{})
	}
	alertsWait(t, "every test alert delivered", func() bool {
		var d struct {
			Integration struct{ Delivery struct{ Delivered int } }
		}
		e.gql("alice", `query($id: ID!) { integration(id: $id) { delivery { delivered } } }`, map[string]any{"id": id}, &d)
		return d.Integration.Delivery.Delivered == sent
	})

	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme&tab=alerts")
	p.waitAlerts()
	toggle := integrationSel("siem") + " button.history-toggle"
	rows := integrationSel("siem") + " table.deliveries tbody tr"
	p.clickCentered(toggle)
	count := func(sel string) int { return eval[int](p, `document.querySelectorAll(`+js(sel)+`).length`) }
	until[bool](p, "the history's first page", `document.querySelectorAll(`+js(rows)+`).length === 20`)
	p.clickCentered(integrationSel("siem") + " .history button.link-button")
	until[bool](p, "the history's second page", `document.querySelectorAll(`+js(rows)+`).length === 40`)
	oldest := eval[string](p, `[...document.querySelectorAll(`+js(rows)+`)].pop().dataset.id`)
	if oldest == "" {
		t.Fatal("the history's rows carry no data-id")
	}
	changes := "#config-changes ul.changes li"
	until[bool](p, "the change log's first page", `document.querySelectorAll(`+js(changes)+`).length === 10`)
	p.clickCentered("#config-changes button.link-button")
	until[bool](p, "the change log's second page", `document.querySelectorAll(`+js(changes)+`).length === 20`)

	p.clickCentered("#alerts-refresh")
	p.waitAlerts()
	// The refresh re-reads the history: wait for its answer to be drawn.
	until[bool](p, "the history re-read", `document.querySelector(`+js(integrationSel("siem")+" .history")+`).getAttribute("aria-busy") === "false"`)
	if n := count(rows); n != 40 {
		t.Errorf("after Refresh the history shows %d alerts, want the 40 the reader had opened", n)
	}
	if n := count(changes); n != 20 {
		t.Errorf("after Refresh the change log shows %d changes, want the 20 the reader had opened", n)
	}
	if got := eval[string](p, `document.querySelector(`+js(toggle)+`).getAttribute("aria-expanded")`); got != "true" {
		t.Errorf("after Refresh the history is closed (aria-expanded %q)", got)
	}

	// A new alert waits for its retry. Refresh shows it on top of the 40
	// rows; from then on the page polls on its own (the history every 3 s
	// while an alert in it is pending), and keeps the 40 rows each time.
	rcv.down.Store(true)
	e.gql("alice", `mutation($id: ID!) { sendTestAlert(integration: $id) { id } }`, map[string]any{"id": id}, &struct{}{})
	alertsWait(t, "a refused attempt", func() bool {
		for _, r := range rcv.received() {
			if r.refused {
				return true
			}
		}
		return false
	})
	p.clickCentered("#alerts-refresh")
	until[bool](p, "the pending alert on top", `(() => { const r = document.querySelector(`+js(rows)+`);
		return !!r && r.dataset.status === "PENDING"; })()`)
	// Count the history's requests from here on: two more, with no click,
	// are the polling's.
	eval[bool](p, `(() => { window.historyReads = 0; const f = window.fetch;
		window.fetch = (...a) => { if (String(a[1] && a[1].body).includes("AlertsHistory")) window.historyReads++; return f(...a); };
		return true; })()`)
	until[bool](p, "two polls of the history", `window.historyReads >= 2 &&
		document.querySelector(`+js(integrationSel("siem")+" .history")+`).getAttribute("aria-busy") === "false"`)
	if n := count(rows); n != 41 {
		t.Errorf("after the polling the history shows %d alerts, want 41 (the new one and the 40 opened)", n)
	}
	if got := eval[string](p, `[...document.querySelectorAll(`+js(rows)+`)].pop().dataset.id`); got != oldest {
		t.Errorf("after the polling the oldest row shown is %q, want %q", got, oldest)
	}
	if n := count(changes); n < 20 {
		t.Errorf("after the polling the change log shows %d changes, want at least the 20 opened", n)
	}
	if !strings.Contains(p.text(integrationSel("siem")+" .history"), "Show older alerts") {
		t.Errorf("the history lost its Show older alerts button")
	}

	// The receiver comes back: the alert is delivered, and the integration
	// still shows the error it had, as history, saying it works again.
	rcv.down.Store(false)
	until[bool](p, "the alert delivered", `document.querySelector(`+js(rows)+`).dataset.status === "DELIVERED"`)
	p.clickCentered("#alerts-refresh")
	p.waitAlerts()
	lastErr := integrationSel("siem") + " .last-error"
	got := until[string](p, "the last error after the recovery", `(() => { const d = document.querySelector(`+js(lastErr)+`);
		return d && d.dataset.recovered === "true" ? d.innerText : ""; })()`)
	if !strings.Contains(got, "503") || !strings.Contains(got, "delivered since") {
		t.Errorf("last error after the recovery %q, want the 503, marked as delivered since", got)
	}
	if got := p.text(integrationSel("siem") + " .integration-head"); !strings.Contains(got, "OK") {
		t.Errorf("integration state %q, want OK", got)
	}
	p.axe("the alerts page with a recovered integration")
}
