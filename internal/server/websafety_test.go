package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/internal/platform/metrics/metricstest"
	"github.com/auditgraph/auditgraph/internal/server"
)

// countEvents returns how many events acme's log holds with action.
func (e *restEnv) countEvents(action string) int {
	e.t.Helper()
	org, err := e.store.OrganizationByName(context.Background(), "acme")
	if err != nil {
		e.t.Fatal(err)
	}
	var n int
	if err := e.store.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = $2`, org.ID, action); err != nil {
		e.t.Fatal(err)
	}
	return n
}

// A batch must say it is NDJSON (or JSON): a cross-site form can only send
// text/plain, multipart/form-data or application/x-www-form-urlencoded.
func TestIngestRequiresNDJSONContentType(t *testing.T) {
	t.Parallel()
	e := newRestEnv(t, deployment.SelfManaged)
	const line = `{"action":"user:login","actor_email":"forged@x.io"}` + "\n"
	for _, tc := range []struct {
		name, contentType string
		code              int
		want              []string
	}{
		{"text/plain (a cross-site form)", "text/plain", http.StatusUnsupportedMediaType, []string{"text/plain", "application/x-ndjson or application/json"}},
		{"form-urlencoded (curl -d)", "application/x-www-form-urlencoded", http.StatusUnsupportedMediaType, []string{"application/x-www-form-urlencoded", "application/x-ndjson"}},
		{"multipart form", "multipart/form-data; boundary=x", http.StatusUnsupportedMediaType, []string{"multipart/form-data", "application/x-ndjson"}},
		{"missing", "", http.StatusUnsupportedMediaType, []string{"Content-Type is missing", "application/x-ndjson"}},
		{"unparseable", "application/x-ndjson; ;=", http.StatusUnsupportedMediaType, []string{"application/x-ndjson or application/json"}},
		{"ndjson", "application/x-ndjson", http.StatusOK, nil},
		{"ndjson with charset, upper case", "Application/X-NDJSON; charset=utf-8", http.StatusOK, nil},
		{"json", "application/json", http.StatusOK, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			before := e.countEvents("user:login")
			req, _ := http.NewRequest(http.MethodPost, e.url+"/api/v1/audit_events", strings.NewReader(line))
			req.SetBasicAuth("alice", e.keys["alice"])
			if tc.contentType != "" {
				req.Header.Set("Content-Type", tc.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body := readAll(t, resp)
			if resp.StatusCode != tc.code {
				t.Fatalf("POST with Content-Type %q = %d %s, want %d", tc.contentType, resp.StatusCode, body, tc.code)
			}
			for _, w := range tc.want {
				if !strings.Contains(body, w) {
					t.Errorf("415 body %s does not name %q", body, w)
				}
			}
			want := before
			if tc.code == http.StatusOK {
				want++
			} else if got := resp.Header.Get("Accept-Post"); got != "application/x-ndjson, application/json" {
				t.Errorf("Accept-Post = %q", got)
			}
			if got := e.countEvents("user:login"); got != want {
				t.Errorf("user:login events = %d, want %d", got, want)
			}
		})
	}
}

// Browsers say where a request comes from (Sec-Fetch-Site, Origin): every
// state-changing request from another site's page is refused, whatever its
// credentials; same-origin pages and non-browser clients keep working.
func TestCrossOriginWritesRefused(t *testing.T) {
	t.Parallel()
	e := newRestEnv(t, deployment.SelfManaged)
	before := metricstest.Parse(t, e.scrapeMetrics())
	host := strings.TrimPrefix(e.url, "http://")
	crossSite := []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"}
	sameSite := []string{"Sec-Fetch-Site", "same-site", "Origin", "https://other.example.com"}
	oldBrowser := []string{"Origin", "https://evil.example"} // no Sec-Fetch-Site
	sameOrigin := []string{"Sec-Fetch-Site", "same-origin", "Origin", e.url}
	sameOriginOld := []string{"Origin", "http://" + host}
	typed := []string{"Sec-Fetch-Site", "none"} // typed into the address bar, a bookmark
	none := []string(nil)

	ingest := func(hdr []string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, e.url+"/api/v1/audit_events", strings.NewReader(`{"action":"user:login","actor_email":"forged@x.io"}`+"\n"))
		req.SetBasicAuth("alice", e.keys["alice"]) // the browser's cached Basic credentials
		req.Header.Set("Content-Type", "application/x-ndjson")
		return send(t, req, hdr)
	}
	team := 0
	createTeam := func(hdr []string) (int, string) {
		team++
		body := `{"query":"mutation { createTeam(organization: \"acme\", name: \"t` + string(rune('a'+team)) + `\") { name } }"}`
		req, _ := http.NewRequest(http.MethodPost, e.url+"/graphql", strings.NewReader(body))
		req.SetBasicAuth("admin", e.keys["admin"])
		req.Header.Set("Content-Type", "application/json")
		return send(t, req, hdr)
	}
	other := func(method string) func([]string) (int, string) {
		return func(hdr []string) (int, string) {
			req, _ := http.NewRequest(method, e.url+"/graphql", strings.NewReader(`{}`))
			req.SetBasicAuth("admin", e.keys["admin"])
			return send(t, req, hdr)
		}
	}
	for _, tc := range []struct {
		name    string
		do      func([]string) (int, string)
		hdr     []string
		refused bool
	}{
		{"ingest cross-site", ingest, crossSite, true},
		{"ingest same-site subdomain", ingest, sameSite, true},
		{"ingest from an old browser with Origin only", ingest, oldBrowser, true},
		{"ingest same-origin", ingest, sameOrigin, false},
		{"ingest same-origin, old browser", ingest, sameOriginOld, false},
		{"ingest user-initiated", ingest, typed, false},
		{"ingest from curl", ingest, none, false},
		{"graphql mutation cross-site", createTeam, crossSite, true},
		{"graphql mutation from an old browser", createTeam, oldBrowser, true},
		{"graphql mutation same-origin (playground)", createTeam, sameOrigin, false},
		{"graphql mutation from a script", createTeam, none, false},
		{"PUT cross-site", other(http.MethodPut), crossSite, true},
		{"DELETE cross-site", other(http.MethodDelete), crossSite, true},
		{"PATCH from an old browser", other(http.MethodPatch), oldBrowser, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := e.countEvents("user:login")
			code, body := tc.do(tc.hdr)
			if tc.refused {
				if code != http.StatusForbidden || !strings.Contains(body, "cross-origin request refused") {
					t.Errorf("= %d %s, want 403 cross-origin request refused", code, body)
				}
				if got := e.countEvents("user:login"); got != before {
					t.Errorf("a refused request stored %d events", got-before)
				}
				return
			}
			if code == http.StatusForbidden {
				t.Errorf("= %d %s, want it served", code, body)
			}
		})
	}
	// Refusals are counted under their route, as any answer.
	after := metricstest.Parse(t, e.scrapeMetrics())
	for _, c := range []struct {
		route string
		want  float64
	}{{"POST /api/v1/audit_events", 3}, {"/graphql", 2}} {
		t.Run(c.route, func(t *testing.T) {
			if got := after.Get("auditgraph_http_requests_total", "route", c.route, "method", "POST", "code", "403") -
				before.Get("auditgraph_http_requests_total", "route", c.route, "method", "POST", "code", "403"); got != c.want {
				t.Errorf("403s counted for %s = %v, want %v", c.route, got, c.want)
			}
		})
	}
	// A browser too old to send Sec-Fetch-Site or Origin can still post a
	// form: as text/plain, which GraphQL does not take.
	for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"} {
		t.Run(ct, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, e.url+"/graphql", strings.NewReader(`{"query":"mutation { createTeam(organization: \"acme\", name: \"viaform\") { name } }"}`))
			req.SetBasicAuth("admin", e.keys["admin"])
			req.Header.Set("Content-Type", ct)
			if code, body := send(t, req, none); code == http.StatusOK {
				t.Errorf("GraphQL mutation posted as %s = %d %s, want it refused", ct, code, body)
			}
		})
	}
	// Only the two allowed mutations created teams.
	if teams := e.teams(); len(teams) != 2 {
		t.Errorf("acme's teams after the cross-origin mutations = %v, want the 2 allowed ones", teams)
	}

	// GET never changes anything, so it is not checked, and gqlgen's GET
	// transport runs queries only: a cross-site GET mutation does nothing.
	req, _ := http.NewRequest(http.MethodGet, e.url+"/graphql?query="+url.QueryEscape(`mutation { createTeam(organization: "acme", name: "viaget") { name } }`), nil)
	req.SetBasicAuth("admin", e.keys["admin"])
	if code, body := send(t, req, crossSite); code == http.StatusOK && !strings.Contains(body, "errors") {
		t.Errorf("cross-site GET mutation = %d %s, want it refused", code, body)
	}
	acme, _ := e.store.OrganizationByName(context.Background(), "acme")
	if _, err := e.store.TeamByName(context.Background(), acme.ID, "viaget"); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("a GET mutation created a team (%v)", err)
	}
}

// gqlgen's WebSocket transport refuses upgrades whose Origin is another
// site's, before any credentials are looked at.
func TestWebsocketUpgradeChecksOrigin(t *testing.T) {
	t.Parallel()
	e := newRestEnv(t, deployment.SelfManaged)
	host := strings.TrimPrefix(e.url, "http://")
	for _, tc := range []struct {
		name   string
		origin string
		ok     bool
	}{
		{"no Origin (not a browser)", "", true},
		{"same origin", "http://" + host, true},
		{"another site", "https://evil.example", false},
		{"same host, another port", "http://127.0.0.1:1", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.origin != "" {
				h.Set("Origin", tc.origin)
			}
			c, resp, err := dialWS(t, e.url, dialOptions{header: h})
			if tc.ok {
				if err != nil {
					t.Fatalf("upgrade = %v (%v), want it accepted", err, resp)
				}
				if err := c.init(map[string]any{"Authorization": basicAuth("alice", e.keys["alice"])}); err != nil {
					t.Errorf("connection_init: %v", err)
				}
				return
			}
			if err == nil {
				c.conn.Close(websocket.StatusNormalClosure, "")
				t.Fatalf("upgrade with Origin %s accepted, want it refused", tc.origin)
			}
			if resp == nil || resp.StatusCode == http.StatusSwitchingProtocols {
				t.Errorf("refused upgrade answered %v", resp)
			}
		})
	}
}

// send sends req with the header pairs hdr and returns the status and body.
func send(t *testing.T, req *http.Request, hdr []string) (int, string) {
	t.Helper()
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, readAll(t, resp)
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// teams returns the names of acme's teams.
func (e *restEnv) teams() []string {
	e.t.Helper()
	var names []string
	if err := e.store.DB().Select(&names, `SELECT t.name FROM teams t JOIN organizations o ON o.id = t.org_id WHERE o.name = 'acme' ORDER BY t.name`); err != nil {
		e.t.Fatal(err)
	}
	return names
}

// A source sending bad keys gets 429 with Retry-After once it has failed
// FailureBurst times; a valid key from it still works. Failures are
// counted by reason. WebSocket connection_init failures count too and are
// closed with 4429 once throttled.
func TestFailedAuthenticationThrottled(t *testing.T) {
	t.Parallel()
	e := newRestEnv(t, deployment.SelfManaged)
	before := metricstest.Parse(t, e.scrapeMetrics())
	bad := func() *http.Response {
		req, _ := http.NewRequest(http.MethodGet, e.url+"/admin/audit_logs", nil)
		req.SetBasicAuth("alice", "ffffffffffffffffffffffffffffffffffffffff")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		readAll(t, resp)
		return resp
	}
	var codes []int
	for range auth.FailureBurst + 5 {
		codes = append(codes, bad().StatusCode)
	}
	for i, c := range codes {
		want := http.StatusUnauthorized
		if i >= auth.FailureBurst {
			want = http.StatusTooManyRequests
		}
		if c != want {
			t.Fatalf("answers to %d bad keys = %v, want %d × 401 then 429", len(codes), codes, auth.FailureBurst)
		}
	}
	if resp := bad(); resp.Header.Get("Retry-After") == "" {
		t.Errorf("429 without Retry-After")
	}
	// The valid key from the same address passes.
	if resp, b := e.do("GET", "/admin/audit_logs", "alice", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("valid key from the throttled address = %d %s, want 200", resp.StatusCode, b)
	}
	c, resp, err := dialWS(t, e.url, dialOptions{})
	if err != nil {
		t.Fatalf("upgrade: %v %v", err, resp)
	}
	err = c.init(map[string]any{"Authorization": "Bearer ffffffffffffffffffffffffffffffffffffffff"})
	if websocket.CloseStatus(err) != 4429 || !strings.Contains(err.Error(), "too many failed authentications") {
		t.Errorf("throttled connection_init = %v, want close 4429", err)
	}
	after := metricstest.Parse(t, e.scrapeMetrics())
	if got := after.Get("auditgraph_auth_failures_total", "reason", "unknown_key") - before.Get("auditgraph_auth_failures_total", "reason", "unknown_key"); got != auth.FailureBurst+7 {
		t.Errorf("auditgraph_auth_failures_total{reason=unknown_key} moved by %v, want %d", got, auth.FailureBurst+7)
	}
	if got := after.Get("auditgraph_auth_throttled_total") - before.Get("auditgraph_auth_throttled_total"); got != 7 {
		t.Errorf("auditgraph_auth_throttled_total moved by %v, want 7", got)
	}
}

// A Slack install is finished only in the browser that started it: its
// install cookie holds the nonce the state names. A leaked install link
// cannot be finished elsewhere, a victim's browser cannot be made to finish
// someone else's install, and neither costs a call to Slack nor uses the
// state up.
func TestSlackInstallBoundToBrowser(t *testing.T) {
	t.Parallel()
	e := newSlackEnv(t, true)
	e.registerApp()
	state := e.install("acme", "alice")
	cookie := e.browser[state]
	if cookie == nil {
		t.Fatal("GET /slack/install set no install cookie")
	}
	if !cookie.HttpOnly || cookie.SameSite != http.SameSiteLaxMode || !cookie.Secure || cookie.Path != "/slack/oauth/callback" ||
		cookie.MaxAge != 600 || len(cookie.Value) < 32 {
		t.Errorf("install cookie = %+v, want HttpOnly, SameSite=Lax, Secure, Path=/slack/oauth/callback, Max-Age=600, a long nonce", cookie)
	}
	if strings.Contains(state, cookie.Value) {
		t.Error("the state carries the cookie's nonce in clear")
	}
	carolState := e.install("other", "carol") // another admin, another browser
	carolCookie := e.browser[carolState]
	q := func(st string) url.Values { return url.Values{"code": {codeOK}, "state": {st}} }
	for _, tc := range []struct {
		name   string
		state  string
		cookie *http.Cookie
		want   string
	}{
		{"alice's link finished in a browser without her cookie (leaked link)", state, nil, "not from this browser"},
		{"alice's link finished in carol's browser", state, carolCookie, "did not start"},
		{"carol's link finished in alice's browser (the reverse)", carolState, cookie, "did not start"},
		{"a forged cookie", state, &http.Cookie{Name: cookie.Name, Value: "forged"}, "did not start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, page, set := e.callbackWith(q(tc.state), tc.cookie)
			if code != http.StatusBadRequest || !strings.Contains(page, tc.want) || !strings.Contains(page, "Slack was not connected") {
				t.Errorf("callback = %d %s, want 400 page with %q", code, page, tc.want)
			}
			if len(set) != 0 {
				t.Errorf("a refused callback changed cookies: %v", set)
			}
			if n := e.slack.calls.Load(); n != 0 {
				t.Errorf("Slack was called %d times, want 0", n)
			}
		})
	}
	// The refusals did not use the states up: each browser finishes its own.
	code, page, set := e.callbackWith(q(state), cookie)
	if code != http.StatusOK {
		t.Fatalf("callback in the browser that started it = %d %s, want 200", code, page)
	}
	if len(set) != 1 || set[0].Name != cookie.Name || set[0].MaxAge >= 0 {
		t.Errorf("finished install's cookies = %v, want the install cookie removed", set)
	}
	if code, _, _ := e.callbackWith(q(carolState), carolCookie); code != http.StatusOK {
		t.Errorf("carol's own callback = %d, want 200", code)
	}
	// Still single-use.
	if code, page, _ := e.callbackWith(q(state), cookie); code != http.StatusBadRequest || !strings.Contains(page, "used already") {
		t.Errorf("replayed callback = %d %s, want 400 used already", code, page)
	}
	if n := e.slack.calls.Load(); n != 2 {
		t.Errorf("Slack was called %d times, want 2", n)
	}
	if a, o := e.integrations("acme"), e.integrations("other"); len(a) != 1 || len(o) != 1 {
		t.Errorf("integrations: acme %d, other %d; want 1 each", len(a), len(o))
	}
}

// Over plain HTTP the install cookie cannot be Secure, or the browser would
// not send it back.
func TestSlackInstallCookieOverHTTP(t *testing.T) {
	t.Parallel()
	e := newSlackEnv(t, true)
	e.registerApp()
	log := slog.New(slog.DiscardHandler)
	srv := httptest.NewServer(server.New(server.Config{Services: app.New(e.store), Identity: identity.New(e.store, deployment.SelfManaged, log),
		Mode: deployment.SelfManaged, Log: log, Secrets: e.box, PublicURL: "http://auditgraph.internal:8080"}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	state := e.install("acme", "alice")
	if c := e.browser[state]; c == nil || c.Secure || !c.HttpOnly {
		t.Errorf("install cookie over http = %+v, want HttpOnly and not Secure", c)
	}
}

// A subscription lives no longer than its credentials: when the user is
// deactivated, or the key deleted, the connection is closed with 4403 and
// the reason, and gets no event after; others go on. An event in the feed
// that may revoke the subscriber's access is checked at once (the revoking
// event itself is not delivered); a revocation the feed does not show is
// found by the check every revalidateEvery (2 s).
func TestSubscriptionEndsWhenCredentialsRevoked(t *testing.T) {
	t.Parallel()
	e := newLiveEnv(t, 0)
	admin := basicAuth("admin", liveAdminKey)
	// alice gets two more keys, to be deleted; the first is hers until she
	// is deactivated.
	newKey := func() (key, id string) {
		res := e.graphql(basicAuth("alice", e.keys["alice"]), `mutation { createAPIKey(name: "more") { key apiKey { id } } }`)
		var created struct {
			CreateAPIKey struct {
				Key    string
				APIKey struct{ ID string }
			}
		}
		if len(res.Errors) > 0 || json.Unmarshal(res.Data, &created) != nil {
			t.Fatalf("createAPIKey: %s %+v", res.Data, res.Errors)
		}
		return created.CreateAPIKey.Key, created.CreateAPIKey.APIKey.ID
	}
	second, secondID := newKey()
	third, thirdID := newKey()

	watcher := must(dialWS(t, e.a, dialOptions{})).mustInit(admin).listen()
	watcher.subscribe("w", liveQuery, nil)
	subscriber := func(key string) *wsClient {
		c := must(dialWS(t, e.a, dialOptions{})).mustInit(basicAuth("alice", key)).listen()
		c.subscribe("s", liveQuery, nil)
		return c
	}
	keyed, silent, person := subscriber(second), subscriber(third), subscriber(e.keys["alice"])
	e.waitSubscribed(4)

	for _, tc := range []struct {
		name   string
		c      *wsClient
		revoke func()
		reason string
		within time.Duration
	}{
		{"key deleted", keyed, func() {
			if res := e.graphql(admin, `mutation { deleteAPIKey(id: "`+secondID+`") }`); len(res.Errors) > 0 {
				t.Fatalf("deleteAPIKey: %+v", res.Errors)
			}
		}, "Forbidden: API key deleted", time.Second},
		{"key deleted without an event in the feed", silent, func() {
			if _, err := e.storeB.DB().Exec(`DELETE FROM api_keys WHERE id = $1`, thirdID); err != nil {
				t.Fatal(err)
			}
		}, "Forbidden: API key deleted", 4 * time.Second},
		{"user deactivated", person, func() {
			if res := e.graphql(admin, `mutation { deactivateUser(username: "alice") { username } }`); len(res.Errors) > 0 {
				t.Fatalf("deactivateUser: %+v", res.Errors)
			}
		}, "Forbidden: user deactivated", time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Events stored before the revocation may still be on their
			// way (the previous case's among them): only later ones count.
			var before int64
			if err := e.storeB.DB().Get(&before, `SELECT last_seq FROM organizations WHERE id = $1`, e.acme); err != nil {
				t.Fatal(err)
			}
			tc.revoke()
			start := time.Now()
			var got []string
			deadline := time.After(10 * time.Second)
		read:
			for {
				select {
				case m, ok := <-tc.c.msgs:
					if !ok {
						break read
					}
					if m.Type == "complete" { // the subscription's end may be announced before the close
						continue
					}
					var p struct {
						Data struct{ AuditEvents struct{ Sequence int64 } }
					}
					if m.Type == "next" && json.Unmarshal(m.Payload, &p) == nil && p.Data.AuditEvents.Sequence <= before {
						continue
					}
					got = append(got, m.Type+" "+string(m.Payload))
				case <-deadline:
					t.Fatalf("connection still open 10s after the revocation; received %q", got)
				}
			}
			took := time.Since(start)
			t.Logf("closed %v after the revocation", took.Round(10*time.Millisecond))
			var ce websocket.CloseError
			if !errors.As(tc.c.err, &ce) || ce.Code != 4403 || ce.Reason != tc.reason {
				t.Errorf("connection ended with %v, want close 4403 %q", tc.c.err, tc.reason)
			}
			if took > tc.within {
				t.Errorf("closed %v after the revocation, want within %v", took, tc.within)
			}
			if len(got) > 0 {
				t.Errorf("received %q after the revocation, want nothing", got)
			}
		})
	}
	// The admin's feed goes on: it saw both changes and sees the next event.
	e.ingest(`{"action":"run:stop","actor_email":"carol@x.io"}` + "\n")
	var actions []string
	for _, ev := range watcher.events("w", 3) {
		actions = append(actions, ev.Action)
	}
	if want := []string{"user:delete_api_key", "user:deactivate", "run:stop"}; !slices.Equal(actions, want) {
		t.Errorf("the admin's feed = %v, want %v", actions, want)
	}
	e.waitSubscribed(1)
}
