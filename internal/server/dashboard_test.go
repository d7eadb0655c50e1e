package server_test

import (
	"net/http"
	"regexp"
	"testing"

	"github.com/auditgraph/auditgraph/internal/platform/dashboard"
)

// TestDashboardPages: the server serves the dashboard's shell and assets
// without credentials, with its Content-Security-Policy, and sends the other
// deployment family's address to its own.
func TestDashboardPages(t *testing.T) {
	t.Parallel()
	e := newGQLEnv(t)
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(path string) *http.Response {
		t.Helper()
		resp, err := noRedirect.Get(e.url + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	for _, path := range []string{"/signin", "/org/dashboard", "/org/dashboard/", "/org/dashboard?org=acme&tab=activity"} {
		resp := get(path)
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != dashboard.ContentSecurityPolicy {
			t.Errorf("GET %s = %d, CSP %q", path, resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
		}
	}
	if resp := get("/account-settings/acme/members"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/org/dashboard?org=acme" {
		t.Errorf("GET /account-settings/acme/members = %d to %q, want 302 to /org/dashboard?org=acme", resp.StatusCode, resp.Header.Get("Location"))
	}
	_, page := e.do(http.MethodGet, "/org/dashboard", "", nil)
	assets := regexp.MustCompile(`(?:src|href)="(/ui/[^"]+)"`).FindAllStringSubmatch(string(page), -1)
	if len(assets) < 4 {
		t.Fatalf("the shell names %d assets, want boot.js, app.css, app.js and the chunks app.js imports:\n%s", len(assets), page)
	}
	for _, m := range assets {
		if resp := get(m[1]); resp.StatusCode != http.StatusOK || resp.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("GET %s = %d, Cache-Control %q", m[1], resp.StatusCode, resp.Header.Get("Cache-Control"))
		}
	}
	if resp := get("/ui/nothing.js"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /ui/nothing.js = %d, want 404", resp.StatusCode)
	}
}
