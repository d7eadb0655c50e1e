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

// TestSlackInstallWithSession: the dashboard's Add to Slack sends the
// browser to the install link, which takes its session cookie when the
// browser comes from this server's page (or an address typed in), not
// from another site's link.
func TestSlackInstallWithSession(t *testing.T) {
	t.Parallel()
	e := newSlackEnv(t, true)
	e.registerApp()
	body := `{"username":"alice","apiKey":"` + e.keys["alice"] + `"}`
	resp, err := http.Post(e.url+"/api/session", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "auditgraph_session" {
			session = c
		}
	}
	if resp.StatusCode != http.StatusOK || session == nil {
		t.Fatalf("POST /api/session = %d with no session cookie", resp.StatusCode)
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tc := range []struct {
		site string
		want int
	}{{"same-origin", http.StatusFound}, {"none", http.StatusFound}, {"", http.StatusFound},
		{"cross-site", http.StatusForbidden}, {"same-site", http.StatusForbidden}} {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/slack/install?org=acme", nil)
		req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
		if tc.site != "" {
			req.Header.Set("Sec-Fetch-Site", tc.site)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("GET /slack/install with the session cookie, Sec-Fetch-Site %q = %d, want %d", tc.site, resp.StatusCode, tc.want)
		}
		if resp.StatusCode == http.StatusFound && !strings.HasPrefix(resp.Header.Get("Location"), "https://slack.com/oauth/v2/authorize?") {
			t.Errorf("Sec-Fetch-Site %q: redirected to %s", tc.site, resp.Header.Get("Location"))
		}
	}
	// Credentials in the header are a script's, wherever it says it runs.
	req, _ := http.NewRequest(http.MethodGet, e.url+"/slack/install?org=acme", nil)
	req.SetBasicAuth("alice", e.keys["alice"])
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Errorf("GET /slack/install with Basic, Sec-Fetch-Site cross-site = %d, want 302", resp.StatusCode)
	}
}
