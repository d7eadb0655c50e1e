package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// TestSlackCallbackLanding: the page the browser lands on after Slack
// leads back to the organization's Alerts & integrations page; a state
// refused for its browser says so in words, says how to start again, links
// to the dashboard's alerts tab without naming the organization, and asks
// Slack nothing.
func TestSlackCallbackLanding(t *testing.T) {
	t.Parallel()
	e := newSlackEnv(t, true)
	e.registerApp()
	state := e.install("acme", "alice")

	// Another browser: no install cookie.
	code, page, _ := e.callbackWith(url.Values{"code": {codeOK}, "state": {state}}, nil)
	for _, want := range []string{
		"Slack was not connected",
		"The install link&#39;s state is not from this browser",
		"Nothing was sent to Slack",
		"How to start again",
		"Add to Slack",
		`href="/org/dashboard?tab=alerts"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("callback from another browser: page lacks %q:\n%s", want, page)
		}
	}
	if code != http.StatusBadRequest || strings.Contains(page, "acme") {
		t.Errorf("callback from another browser = %d, want 400 naming no organization:\n%s", code, page)
	}
	if n := e.slack.calls.Load(); n != 0 {
		t.Errorf("Slack was called %d times, want 0", n)
	}

	// The browser that started it finishes it, and is led back to acme's page.
	code, page = e.callback(url.Values{"code": {codeOK}, "state": {state}})
	if code != http.StatusOK || !strings.Contains(page, `href="/org/dashboard?org=acme&amp;tab=alerts"`) || strings.Contains(page, "How to start again") {
		t.Errorf("callback = %d, want 200 linking to acme's alerts tab:\n%s", code, page)
	}

	// Slack's refusal that a new install can get past says how to start again.
	code, page = e.callback(url.Values{"error": {"access_denied"}, "state": {e.install("acme", "alice")}})
	if code != http.StatusBadRequest || !strings.Contains(page, "How to start again") || !strings.Contains(page, "cancelled") {
		t.Errorf("callback with access_denied = %d:\n%s", code, page)
	}
}
