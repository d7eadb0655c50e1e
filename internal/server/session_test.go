package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// sessionEnv is a server on real HTTP and PostgreSQL, with the instance
// admin "admin", the organization "acme" with its admin alice, its member
// bob and gone (deactivated), an injected clock and a log that keeps
// everything (debug level), for the sign-in tests.
type sessionEnv struct {
	t     testing.TB
	ctx   context.Context
	url   string
	store *storage.Store
	ids   *identity.Service
	admin *auth.Principal
	keys  map[string]string
	clock *fakeClock
	logs  *syncBuffer
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

type sessionOptions struct {
	mode      deployment.Mode
	publicURL string
	idle      time.Duration
	lifetime  time.Duration
}

func newSessionEnv(t testing.TB, o sessionOptions) *sessionEnv {
	t.Helper()
	if o.mode == "" {
		o.mode = deployment.SelfManaged
	}
	ctx := context.Background()
	st := storagetest.New(t)
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ids := identity.New(st, o.mode, log)
	boot := identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: gqlAdminKey}
	if o.mode.HasInstanceOrg() {
		boot.OrgName = "default"
	}
	if _, _, err := ids.Bootstrap(ctx, boot); err != nil {
		t.Fatal(err)
	}
	admin, err := st.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	e := &sessionEnv{t: t, ctx: ctx, store: st, ids: ids, admin: &auth.Principal{User: admin}, keys: map[string]string{"admin": gqlAdminKey},
		clock: &fakeClock{t: time.Now().UTC()}, logs: logs}
	if _, err := ids.CreateOrganization(ctx, e.admin, "acme", "enterprise"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct{ name, role string }{{"alice", access.RoleAdmin}, {"bob", access.RoleMember}, {"gone", access.RoleMember}} {
		if _, err := ids.CreateUser(ctx, e.admin, identity.NewUser{Username: u.name, Name: strings.ToUpper(u.name[:1]) + u.name[1:] + " Doe",
			Email: u.name + "@x.io", Org: "acme", Role: u.role}); err != nil {
			t.Fatal(err)
		}
		key, _, err := ids.CreateAPIKey(ctx, e.admin, u.name, "test")
		if err != nil {
			t.Fatal(err)
		}
		e.keys[u.name] = key
	}
	if _, err := ids.DeactivateUser(ctx, e.admin, "gone"); err != nil {
		t.Fatal(err)
	}
	if _, err := ids.CreateTeam(ctx, e.admin, "acme", "bots"); err != nil {
		t.Fatal(err)
	}
	if _, err := ids.CreateServiceAccount(ctx, e.admin, "acme", "bots", "bot", "Bot"); err != nil {
		t.Fatal(err)
	}
	key, _, err := ids.CreateAPIKey(ctx, e.admin, "bot", "test")
	if err != nil {
		t.Fatal(err)
	}
	e.keys["bot"] = key
	srv := httptest.NewServer(server.New(server.Config{Services: app.New(st), Identity: ids, Mode: o.mode, Log: log, Now: e.clock.now,
		PublicURL: o.publicURL, SessionIdleTimeout: o.idle, SessionLifetime: o.lifetime}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// request sends a request with headers (and the session cookie token,
// when not empty) and returns the response with its body read.
func (e *sessionEnv) request(method, path, token string, header http.Header, body string) (*http.Response, []byte) {
	e.t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: token})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp, b
}

var jsonHeader = http.Header{"Content-Type": {"application/json"}}

// signIn posts a sign-in and returns the response.
func (e *sessionEnv) signIn(username, key string) (*http.Response, []byte) {
	e.t.Helper()
	b, _ := json.Marshal(map[string]string{"username": username, "apiKey": key})
	return e.request(http.MethodPost, "/api/session", "", jsonHeader, string(b))
}

// mustSignIn signs in and returns the session cookie's token.
func (e *sessionEnv) mustSignIn(username string) string {
	e.t.Helper()
	resp, b := e.signIn(username, e.keys[username])
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("sign-in as %s: %d %s", username, resp.StatusCode, b)
	}
	c := sessionCookie(resp)
	if c == nil {
		e.t.Fatalf("sign-in as %s: no %s cookie in %q", username, auth.CookieName, resp.Header.Values("Set-Cookie"))
	}
	return c.Value
}

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName {
			return c
		}
	}
	return nil
}

func (e *sessionEnv) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.store.DB().Get(&n, query, args...); err != nil {
		e.t.Fatal(err)
	}
	return n
}

func (e *sessionEnv) sessionRows() int { return e.count(`SELECT count(*) FROM sessions`) }

func (e *sessionEnv) events(action string) int {
	return e.count(`SELECT count(*) FROM audit_events WHERE action = $1`, action)
}

// viewer asks /graphql who the caller is, with the session token and the
// Authorization header authz (none when empty); "" when refused.
func (e *sessionEnv) viewer(token, authz string) (int, string) {
	e.t.Helper()
	h := http.Header{"Content-Type": {"application/json"}}
	if authz != "" {
		h.Set("Authorization", authz)
	}
	resp, b := e.request(http.MethodPost, "/graphql", token, h, `{"query":"{ viewer { username } }"}`)
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, ""
	}
	var res struct {
		Data struct{ Viewer struct{ Username string } }
	}
	if err := json.Unmarshal(b, &res); err != nil {
		e.t.Fatalf("viewer: %s: %v", b, err)
	}
	return resp.StatusCode, res.Data.Viewer.Username
}

const signInFailed = `{"error":"sign-in failed: unknown username or wrong API key"}`

// TestSignInRefused checks that every wrong sign-in gets the same 401,
// sets no cookie and makes no session.
func TestSignInRefused(t *testing.T) {
	e := newSessionEnv(t, sessionOptions{})
	for _, tc := range []struct{ name, username, key string }{
		{"unknown username", "nobody", e.keys["alice"]},
		{"wrong key", "alice", "0123456789abcdef0123456789abcdef01234567"},
		{"another user's key", "alice", e.keys["bob"]},
		{"deactivated user", "gone", e.keys["gone"]},
		{"no username", "", e.keys["alice"]},
		{"no key", "alice", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			resp, b := e.signIn(tc.username, tc.key)
			if resp.StatusCode != http.StatusUnauthorized || strings.TrimSpace(string(b)) != signInFailed {
				t.Errorf("sign-in: %d %s, want 401 %s", resp.StatusCode, b, signInFailed)
			}
			if c := resp.Header.Values("Set-Cookie"); len(c) > 0 {
				t.Errorf("sign-in refused with Set-Cookie %q", c)
			}
			if resp.Header.Get("WWW-Authenticate") != "" {
				t.Errorf("sign-in refused with a challenge %q: the browser would prompt", resp.Header.Get("WWW-Authenticate"))
			}
			if n := e.sessionRows(); n != 0 {
				t.Errorf("%d sessions after a refused sign-in, want 0", n)
			}
		})
	}
	if n := e.events("user:login"); n != 0 {
		t.Errorf("%d user:login events after refused sign-ins, want 0", n)
	}
}

// TestSignInServiceAccount checks that a service account, whose key is
// right, is told it cannot sign in, and gets no session.
func TestSignInServiceAccount(t *testing.T) {
	e := newSessionEnv(t, sessionOptions{})
	resp, b := e.signIn("bot", e.keys["bot"])
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "service accounts cannot sign in") {
		t.Errorf("service account sign-in: %d %s, want 403 naming service accounts", resp.StatusCode, b)
	}
	if strings.Contains(string(b), e.keys["bot"]) {
		t.Errorf("the refusal %s carries the key", b)
	}
	if c := resp.Header.Values("Set-Cookie"); len(c) > 0 {
		t.Errorf("service account sign-in refused with Set-Cookie %q", c)
	}
	if n := e.sessionRows(); n != 0 {
		t.Errorf("%d sessions after a service account's sign-in, want 0", n)
	}
	if n := e.events("user:login"); n != 0 {
		t.Errorf("%d user:login events after a service account's sign-in, want 0", n)
	}
}

// TestSignInRequest checks the sign-in's media type and body rules.
func TestSignInRequest(t *testing.T) {
	e := newSessionEnv(t, sessionOptions{})
	body := `{"username":"alice","apiKey":"` + e.keys["alice"] + `"}`
	for _, tc := range []struct {
		name, ct, body string
		want           int
	}{
		{"form", "application/x-www-form-urlencoded", "username=alice&apiKey=" + e.keys["alice"], http.StatusUnsupportedMediaType},
		{"text", "text/plain", body, http.StatusUnsupportedMediaType},
		{"no content type", "", body, http.StatusUnsupportedMediaType},
		{"not JSON", "application/json", "{", http.StatusBadRequest},
		{"too large", "application/json", `{"username":"alice","apiKey":"` + strings.Repeat("a", 5000) + `"}`, http.StatusRequestEntityTooLarge},
		{"JSON with charset", "application/json; charset=utf-8", body, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			h := http.Header{}
			if tc.ct != "" {
				h.Set("Content-Type", tc.ct)
			}
			resp, b := e.request(http.MethodPost, "/api/session", "", h, tc.body)
			if resp.StatusCode != tc.want {
				t.Errorf("sign-in as %s: %d %s, want %d", tc.ct, resp.StatusCode, b, tc.want)
			}
			if strings.Contains(string(b), e.keys["alice"]) {
				t.Errorf("answer %s repeats the key", b)
			}
		})
	}
}

// TestSignInCookie checks the session cookie's value and flags, the
// answer, the stored hash and the user:login event.
func TestSignInCookie(t *testing.T) {
	for _, tc := range []struct {
		name, publicURL string
		secure          bool
	}{
		{"http", "", false},
		{"https public URL", "https://audit.example.com", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newSessionEnv(t, sessionOptions{publicURL: tc.publicURL})
			resp, b := e.signIn("alice", e.keys["alice"])
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("sign-in: %d %s", resp.StatusCode, b)
			}
			raw := resp.Header.Get("Set-Cookie")
			c := sessionCookie(resp)
			if c == nil {
				t.Fatalf("no session cookie: %q", raw)
			}
			if !regexp.MustCompile(`^[A-Za-z0-9_-]{43}$`).MatchString(c.Value) {
				t.Errorf("token %q: want 43 characters of base64url (32 bytes)", c.Value)
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != tc.secure {
				t.Errorf("Set-Cookie %q: want HttpOnly, SameSite=Lax, Path=/, Secure=%v", raw, tc.secure)
			}
			if c.MaxAge != 0 || !c.Expires.IsZero() || c.Domain != "" {
				t.Errorf("Set-Cookie %q: want no Max-Age, Expires or Domain", raw)
			}
			if resp.Header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", resp.Header.Get("Cache-Control"))
			}
			var got map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			exp, err := time.Parse(time.RFC3339, got["expiresAt"].(string))
			if err != nil {
				t.Errorf("expiresAt %v: %v", got["expiresAt"], err)
			}
			if want := e.clock.now().Add(12 * time.Hour); exp.Sub(want).Abs() > 2*time.Second {
				t.Errorf("expiresAt %v, want %v (the idle timeout)", exp, want)
			}
			delete(got, "expiresAt")
			if want := map[string]any{"username": "alice", "name": "Alice Doe", "instanceAdmin": false}; !mapsEqual(got, want) {
				t.Errorf("answer %v, want %v and expiresAt", got, want)
			}
			// Only the hash is stored.
			if n := e.count(`SELECT count(*) FROM sessions WHERE hash = sha256(convert_to($1, 'UTF8'))`, c.Value); n != 1 {
				t.Errorf("%d sessions stored under the token's SHA-256, want 1", n)
			}
			if n := e.count(`SELECT count(*) FROM sessions WHERE position(convert_to($1, 'UTF8') in hash) > 0`, c.Value); n != 0 {
				t.Errorf("the token is stored in clear")
			}
			if n := e.count(`SELECT count(*) FROM audit_events WHERE action = 'user:login' AND actor_user_id = user_asset
				AND user_email = 'alice@x.io' AND actor_ip = '127.0.0.1'`); n != 1 {
				t.Errorf("%d user:login events by alice about herself from 127.0.0.1, want 1", n)
			}
		})
	}
}

func mapsEqual(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestSessionCookieRoutes checks where the cookie is a credential: GraphQL
// (POST, GET), the users file, the audit log and /api/session, and not
// ingest or /metrics; an Authorization header wins over it.
func TestSessionCookieRoutes(t *testing.T) {
	e := newSessionEnv(t, sessionOptions{})
	alice := e.mustSignIn("alice")
	admin := e.mustSignIn("admin")
	ingest := `{"id":"s1","action":"run:update","timestamp":"` + time.Now().UTC().Format(time.RFC3339) + `"}` + "\n"
	for _, tc := range []struct {
		name, method, path, token, body, ct string
		want                                int
	}{
		{"POST /graphql", http.MethodPost, "/graphql", alice, `{"query":"{ viewer { username } }"}`, "application/json", http.StatusOK},
		{"GET /graphql", http.MethodGet, "/graphql?query=" + url.QueryEscape("{ viewer { username } }"), alice, "", "", http.StatusOK},
		{"GET /admin/users.csv", http.MethodGet, "/admin/users.csv?org=acme", alice, "", "", http.StatusOK},
		{"GET /admin/audit_logs", http.MethodGet, "/admin/audit_logs?org=acme", alice, "", "", http.StatusOK},
		{"GET /api/session", http.MethodGet, "/api/session", alice, "", "", http.StatusOK},
		{"POST /api/v1/audit_events", http.MethodPost, "/api/v1/audit_events?org=acme", alice, ingest, "application/x-ndjson", http.StatusUnauthorized},
		{"GET /metrics", http.MethodGet, "/metrics", admin, "", "", http.StatusUnauthorized},
		{"POST /graphql without the cookie", http.MethodPost, "/graphql", "", `{"query":"{ viewer { username } }"}`, "application/json", http.StatusUnauthorized},
		{"POST /graphql with a made-up token", http.MethodPost, "/graphql", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", `{"query":"{ viewer { username } }"}`, "application/json", http.StatusUnauthorized},
		{"GET /api/session without the cookie", http.MethodGet, "/api/session", "", "", "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			h := http.Header{}
			if tc.ct != "" {
				h.Set("Content-Type", tc.ct)
			}
			resp, b := e.request(tc.method, tc.path, tc.token, h, tc.body)
			if resp.StatusCode != tc.want {
				t.Errorf("%s: %d %s, want %d", tc.name, resp.StatusCode, b, tc.want)
			}
			if resp.StatusCode == http.StatusOK && strings.HasSuffix(tc.path, "graphql") || strings.Contains(tc.path, "graphql?") {
				if !strings.Contains(string(b), `"alice"`) {
					t.Errorf("%s: %s, want alice as the viewer", tc.name, b)
				}
			}
		})
	}
	t.Run("GET /api/session answer", func(t *testing.T) {
		e := *e
		e.t = t
		resp, b := e.request(http.MethodGet, "/api/session", admin, nil, "")
		var got map[string]any
		if err := json.Unmarshal(b, &got); err != nil || resp.StatusCode != http.StatusOK {
			t.Fatalf("GET /api/session: %d %s", resp.StatusCode, b)
		}
		if got["username"] != "admin" || got["instanceAdmin"] != true || got["deployment"] != "self-managed" || got["expiresAt"] == nil {
			t.Errorf("GET /api/session: %s", b)
		}
		// Basic credentials work too; there is no session to expire.
		resp, b = e.request(http.MethodGet, "/api/session", "", http.Header{"Authorization": {basicAuth("bob", e.keys["bob"])}}, "")
		if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `"username":"bob"`) || !strings.Contains(string(b), `"expiresAt":null`) {
			t.Errorf("GET /api/session with Basic: %d %s", resp.StatusCode, b)
		}
	})
	t.Run("Authorization wins", func(t *testing.T) {
		e := *e
		e.t = t
		if status, who := e.viewer(alice, basicAuth("bob", e.keys["bob"])); who != "bob" {
			t.Errorf("alice's cookie with bob's Basic credentials: %d %q, want bob", status, who)
		}
		if status, _ := e.viewer(alice, basicAuth("bob", "wrong")); status != http.StatusUnauthorized {
			t.Errorf("alice's cookie with a wrong Basic key: %d, want 401", status)
		}
	})
	t.Run("no challenge to a browser's script", func(t *testing.T) {
		e := *e
		e.t = t
		resp, _ := e.request(http.MethodPost, "/graphql", "", http.Header{"Content-Type": {"application/json"}, "Sec-Fetch-Mode": {"cors"}}, `{"query":"{ viewer { username } }"}`)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "" {
			t.Errorf("fetch without credentials: %d, WWW-Authenticate %q; want 401 without a challenge", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
		}
		resp, _ = e.request(http.MethodPost, "/graphql", "", http.Header{"Content-Type": {"application/json"}}, `{"query":"{ viewer { username } }"}`)
		if resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("curl without credentials: no challenge")
		}
	})
}

// TestSessionWebSocket checks that a WebSocket opened with the session
// cookie and a connection_init without Authorization is the session's user,
// and that the connection closes when the user signs out.
func TestSessionWebSocket(t *testing.T) {
	e := newSessionEnv(t, sessionOptions{})
	alice := e.mustSignIn("alice")
	cookie := http.Header{"Cookie": {auth.CookieName + "=" + alice}}
	c := must(dialWS(t, e.url, dialOptions{header: cookie}))
	if err := c.init(nil); err != nil {
		t.Fatalf("connection_init with the session cookie: %v", err)
	}
	c.subscribe("1", `subscription { auditEvents(organization: "acme") { action } }`, nil).listen()
	// Another connection with a made-up cookie is refused.
	bad := must(dialWS(t, e.url, dialOptions{header: http.Header{"Cookie": {auth.CookieName + "=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}}))
	if err := bad.init(nil); websocket.CloseStatus(err) != 4403 {
		t.Errorf("connection_init with a made-up cookie: %v, want 4403", err)
	}
	// Signing out ends the open connection within seconds.
	if resp, b := e.request(http.MethodDelete, "/api/session", alice, nil, ""); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("sign-out: %d %s", resp.StatusCode, b)
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case _, ok := <-c.msgs:
			if ok {
				continue
			}
			if got := websocket.CloseStatus(c.err); got != 4403 {
				t.Errorf("after sign-out the connection ended with %v, want 4403", c.err)
			}
			return
		case <-deadline:
			t.Fatal("the connection outlived its session by 10 s")
		}
	}
}

// TestSessionExpiry checks the idle timeout and the absolute lifetime on
// an injected clock.
func TestSessionExpiry(t *testing.T) {
	e := newSessionEnv(t, sessionOptions{idle: time.Hour, lifetime: 3 * time.Hour})
	t.Run("idle", func(t *testing.T) {
		e := *e
		e.t = t
		tok := e.mustSignIn("alice")
		e.clock.advance(59 * time.Minute)
		if _, who := e.viewer(tok, ""); who != "alice" {
			t.Fatalf("after 59 min idle: refused, want alice")
		}
		// Used just now: another 59 minutes are fine.
		e.clock.advance(59 * time.Minute)
		if _, who := e.viewer(tok, ""); who != "alice" {
			t.Fatalf("59 min after the last use: refused, want alice")
		}
		e.clock.advance(61 * time.Minute)
		resp, _ := e.request(http.MethodGet, "/api/session", tok, nil, "")
		if resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("61 min idle: %d, want 401", resp.StatusCode)
		}
		if c := sessionCookie(resp); c == nil || c.MaxAge >= 0 {
			t.Errorf("an ended session's 401 does not clear the cookie: %q", resp.Header.Values("Set-Cookie"))
		}
		if n := e.count(`SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'alice'`); n != 0 {
			t.Errorf("%d sessions of alice left after expiry, want 0 (deleted)", n)
		}
	})
	t.Run("lifetime", func(t *testing.T) {
		e := *e
		e.t = t
		tok := e.mustSignIn("bob")
		for range 5 {
			e.clock.advance(35 * time.Minute) // never idle
			if _, who := e.viewer(tok, ""); who != "bob" {
				t.Fatalf("used every 35 min: refused before the lifetime ended")
			}
		}
		e.clock.advance(10 * time.Minute) // 3h05 after sign-in
		if status, _ := e.viewer(tok, ""); status != http.StatusUnauthorized {
			t.Errorf("past the lifetime, though used: %d, want 401", status)
		}
	})
}

// TestSignOut checks that signing out deletes the session, clears the
// cookie, records user:logout and leaves the old cookie useless.
func TestSignOut(t *testing.T) {
	e := newSessionEnv(t, sessionOptions{})
	tok := e.mustSignIn("bob")
	other := e.mustSignIn("bob") // a second browser
	resp, b := e.request(http.MethodDelete, "/api/session", tok, nil, "")
	if resp.StatusCode != http.StatusNoContent || len(b) != 0 {
		t.Fatalf("sign-out: %d %s, want 204", resp.StatusCode, b)
	}
	c := sessionCookie(resp)
	if c == nil || c.MaxAge >= 0 || c.Value != "" || !c.HttpOnly || c.Path != "/" {
		t.Errorf("sign-out Set-Cookie %q: want the cookie expired", resp.Header.Values("Set-Cookie"))
	}
	if status, _ := e.viewer(tok, ""); status != http.StatusUnauthorized {
		t.Errorf("the signed-out cookie: %d, want 401", status)
	}
	if _, who := e.viewer(other, ""); who != "bob" {
		t.Errorf("the other browser's session ended too")
	}
	if n := e.events("user:logout"); n != 1 {
		t.Errorf("%d user:logout events, want 1", n)
	}
	// Again, and without a cookie: still 204, nothing more recorded.
	for _, token := range []string{tok, ""} {
		if resp, b := e.request(http.MethodDelete, "/api/session", token, nil, ""); resp.StatusCode != http.StatusNoContent {
			t.Errorf("sign-out again: %d %s, want 204", resp.StatusCode, b)
		}
	}
	if n := e.events("user:logout"); n != 1 {
		t.Errorf("%d user:logout events after signing out twice, want 1", n)
	}
}

// TestSignInAgain checks that signing in from a browser that holds a
// session ends that session (as a sign-out) and sets a new cookie.
func TestSignInAgain(t *testing.T) {
	e := newSessionEnv(t, sessionOptions{})
	bob := e.mustSignIn("bob")
	b, _ := json.Marshal(map[string]string{"username": "alice", "apiKey": e.keys["alice"]})
	resp, body := e.request(http.MethodPost, "/api/session", bob, jsonHeader, string(b))
	c := sessionCookie(resp)
	if resp.StatusCode != http.StatusOK || c == nil || c.Value == bob {
		t.Fatalf("sign-in with bob's cookie: %d %s, cookie %v; want a new session", resp.StatusCode, body, c)
	}
	if status, _ := e.viewer(bob, ""); status != http.StatusUnauthorized {
		t.Errorf("bob's session after alice signed in from the same browser: %d, want 401", status)
	}
	if _, who := e.viewer(c.Value, ""); who != "alice" {
		t.Errorf("the new cookie is %q's, want alice's", who)
	}
	if n := e.events("user:logout"); n != 1 {
		t.Errorf("%d user:logout events, want 1 (bob's)", n)
	}
}

// TestSessionsEndOnRevocation checks that deactivating a user or deleting
// the key a session was opened with ends the session at once, and that a
// reactivation does not bring it back.
func TestSessionsEndOnRevocation(t *testing.T) {
	e := newSessionEnv(t, sessionOptions{})
	bob := e.mustSignIn("bob")
	if _, err := e.ids.DeactivateUser(e.ctx, e.admin, "bob"); err != nil {
		t.Fatal(err)
	}
	if n := e.count(`SELECT count(*) FROM sessions s JOIN users u ON u.id = s.user_id WHERE u.username = 'bob'`); n != 0 {
		t.Errorf("%d sessions of bob after deactivation, want 0", n)
	}
	if status, _ := e.viewer(bob, ""); status != http.StatusUnauthorized {
		t.Errorf("deactivated bob's cookie: %d, want 401", status)
	}
	if _, err := e.ids.ReactivateUser(e.ctx, e.admin, "bob"); err != nil {
		t.Fatal(err)
	}
	if status, _ := e.viewer(bob, ""); status != http.StatusUnauthorized {
		t.Errorf("reactivated bob's old cookie: %d, want 401", status)
	}

	// Deleting the key ends the sessions opened with it, not others.
	alice := e.mustSignIn("alice")
	second, _, err := e.ids.CreateAPIKey(e.ctx, e.admin, "alice", "second")
	if err != nil {
		t.Fatal(err)
	}
	e.keys["alice"], e.keys["alice-first"] = second, e.keys["alice"]
	withSecond := e.mustSignIn("alice")
	p, err := auth.New(e.store, slog.New(slog.DiscardHandler)).AuthenticateHeader(e.ctx, "Bearer "+e.keys["alice-first"], "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ids.DeleteAPIKey(e.ctx, e.admin, p.KeyID); err != nil {
		t.Fatal(err)
	}
	if status, _ := e.viewer(alice, ""); status != http.StatusUnauthorized {
		t.Errorf("a session opened with a deleted key: %d, want 401", status)
	}
	if _, who := e.viewer(withSecond, ""); who != "alice" {
		t.Errorf("a session opened with the other key ended too")
	}
}

// TestSessionCrossSite checks that another site's page cannot use the
// cookie: a cross-site POST /graphql and a cross-site WebSocket upgrade are
// refused, while the same requests from the server's own pages pass.
func TestSessionCrossSite(t *testing.T) {
	e := newSessionEnv(t, sessionOptions{})
	alice := e.mustSignIn("alice")
	mutation := `{"query":"mutation { createTeam(organization: \"acme\", name: \"evil\") { id } }"}`
	for _, tc := range []struct {
		name   string
		header http.Header
		want   int
	}{
		{"Sec-Fetch-Site cross-site", http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}, http.StatusForbidden},
		{"Sec-Fetch-Site same-site", http.Header{"Sec-Fetch-Site": {"same-site"}}, http.StatusForbidden},
		{"Origin of another site", http.Header{"Origin": {"https://evil.example"}}, http.StatusForbidden},
		{"same origin", http.Header{"Sec-Fetch-Site": {"same-origin"}}, http.StatusOK},
	} {
		t.Run("POST /graphql "+tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			h := http.Header{"Content-Type": {"application/json"}}
			for k, v := range tc.header {
				h[k] = v
			}
			resp, b := e.request(http.MethodPost, "/graphql", alice, h, mutation)
			if resp.StatusCode != tc.want {
				t.Errorf("%d %s, want %d", resp.StatusCode, b, tc.want)
			}
		})
	}
	if n := e.count(`SELECT count(*) FROM teams WHERE name = 'evil'`); n != 1 {
		t.Errorf("%d teams made, want 1 (the same-origin request only)", n)
	}
	crossSite := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
	t.Run("DELETE /api/session cross-site", func(t *testing.T) {
		e := *e
		e.t = t
		if resp, b := e.request(http.MethodDelete, "/api/session", alice, crossSite, ""); resp.StatusCode != http.StatusForbidden {
			t.Errorf("cross-site sign-out: %d %s, want 403", resp.StatusCode, b)
		}
		if _, who := e.viewer(alice, ""); who != "alice" {
			t.Errorf("a cross-site sign-out ended the session")
		}
	})
	t.Run("POST /api/session cross-site", func(t *testing.T) {
		e := *e
		e.t = t
		h := http.Header{"Content-Type": {"application/json"}}
		for k, v := range crossSite {
			h[k] = v
		}
		b, _ := json.Marshal(map[string]string{"username": "bob", "apiKey": e.keys["bob"]})
		resp, body := e.request(http.MethodPost, "/api/session", "", h, string(b))
		if resp.StatusCode != http.StatusForbidden || sessionCookie(resp) != nil {
			t.Errorf("cross-site sign-in: %d %s, want 403 and no cookie", resp.StatusCode, body)
		}
	})
	cookie := auth.CookieName + "=" + alice
	for _, tc := range []struct {
		name   string
		header http.Header
		ok     bool
	}{
		{"Origin of another site", http.Header{"Origin": {"https://evil.example"}}, false},
		{"Sec-Fetch-Site cross-site", http.Header{"Sec-Fetch-Site": {"cross-site"}}, false},
		{"Sec-Fetch-Site same-site", http.Header{"Sec-Fetch-Site": {"same-site"}, "Origin": {"http://sub." + strings.TrimPrefix(e.url, "http://")}}, false},
		{"same origin", http.Header{"Origin": {e.url}, "Sec-Fetch-Site": {"same-origin"}}, true},
	} {
		t.Run("WebSocket "+tc.name, func(t *testing.T) {
			h := http.Header{"Cookie": {cookie}}
			for k, v := range tc.header {
				h[k] = v
			}
			c, resp, err := dialWS(t, e.url, dialOptions{header: h})
			if !tc.ok {
				if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Errorf("cross-site upgrade with the cookie: %v %v, want 403", resp, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("same-origin upgrade: %v %v", resp, err)
			}
			if err := c.init(nil); err != nil {
				t.Errorf("same-origin connection_init with the cookie: %v", err)
			}
		})
	}
}

// TestSignInThrottled checks that failed sign-ins count against the source
// like other failed authentications, and that the right key still passes.
func TestSignInThrottled(t *testing.T) {
	e := newSessionEnv(t, sessionOptions{})
	var last int
	for range auth.FailureBurst + 1 {
		resp, _ := e.signIn("alice", "0000000000000000000000000000000000000000")
		last = resp.StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("sign-in %d of a flood: %d, want 429", auth.FailureBurst+1, last)
	}
	if resp, b := e.signIn("alice", e.keys["alice"]); resp.StatusCode != http.StatusOK {
		t.Errorf("the right key from the throttled address: %d %s, want 200", resp.StatusCode, b)
	}
}

// TestIndexRedirect checks that / sends a signed-in browser to its
// dashboard, and shows the index with a sign-in link otherwise.
func TestIndexRedirect(t *testing.T) {
	for _, tc := range []struct {
		mode deployment.Mode
		want string
	}{
		{deployment.SelfManaged, "/org/dashboard"},
		{deployment.Dedicated, "/org/dashboard"},
		{deployment.MultiTenant, "/account-settings/"},
	} {
		t.Run(string(tc.mode), func(t *testing.T) {
			e := newSessionEnv(t, sessionOptions{mode: tc.mode})
			tok := e.mustSignIn("alice")
			resp, _ := e.request(http.MethodGet, "/", tok, nil, "")
			if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != tc.want {
				t.Errorf("GET / signed in: %d Location %q, want 302 %s", resp.StatusCode, resp.Header.Get("Location"), tc.want)
			}
			resp, b := e.request(http.MethodGet, "/", "", nil, "")
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), `href="/signin"`) {
				t.Errorf("GET / signed out: %d, want 200 with a link to /signin:\n%s", resp.StatusCode, b)
			}
			resp, _ = e.request(http.MethodGet, "/", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", nil, "")
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET / with an ended session: %d, want 200", resp.StatusCode)
			}
			if c := sessionCookie(resp); c == nil || c.MaxAge >= 0 {
				t.Errorf("GET / with an ended session does not clear the cookie")
			}
		})
	}
}

// TestSessionTokenNeverLogged runs a session's whole life with the log at
// debug level and checks that neither the token nor the key shows in it.
func TestSessionTokenNeverLogged(t *testing.T) {
	e := newSessionEnv(t, sessionOptions{idle: time.Hour})
	resp, _ := e.signIn("bob", "deadbeefdeadbeefdeadbeefdeadbeefdeadbeef") // a failure is logged
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong key: %d", resp.StatusCode)
	}
	tok := e.mustSignIn("bob")
	e.viewer(tok, "")
	e.request(http.MethodGet, "/", tok, nil, "")
	e.request(http.MethodGet, "/api/session", tok, nil, "")
	e.request(http.MethodGet, "/graphql?query="+url.QueryEscape("{ nosuchfield }"), tok, nil, "")
	e.clock.advance(2 * time.Hour)
	e.viewer(tok, "") // ended: a failure is logged
	tok2 := e.mustSignIn("bob")
	e.request(http.MethodDelete, "/api/session", tok2, nil, "")
	logs := e.logs.String()
	if !strings.Contains(logs, "authentication failed") {
		t.Fatalf("no failure logged; is the log captured?\n%s", logs)
	}
	for name, secret := range map[string]string{"token": tok, "second token": tok2, "API key": e.keys["bob"], "wrong key": "deadbeefdeadbeef"} {
		if strings.Contains(logs, secret) {
			t.Errorf("the %s shows in the log:\n%s", name, logs)
		}
	}
}

// BenchmarkSessionRequest measures an authenticated GraphQL request with
// the session cookie beside the same request with Basic credentials.
func BenchmarkSessionRequest(b *testing.B) {
	e := newSessionEnv(b, sessionOptions{})
	tok := e.mustSignIn("alice")
	basic := basicAuth("alice", e.keys["alice"])
	for _, bc := range []struct{ name, token, authz string }{{"cookie", tok, ""}, {"basic", "", basic}} {
		b.Run(bc.name, func(b *testing.B) {
			e := *e
			e.t = b
			for b.Loop() {
				if _, who := e.viewer(bc.token, bc.authz); who != "alice" {
					b.Fatal("refused")
				}
			}
		})
	}
}

// TestSessionSubscriptionEndsOnSignOut checks that a live subscription
// opened with the session cookie ends as soon as its feed brings the
// user:logout that ended its session, without delivering it.
func TestSessionSubscriptionEndsOnSignOut(t *testing.T) {
	e := newLiveEnv(t, 0)
	signIn := func() string {
		b, _ := json.Marshal(map[string]string{"username": "alice", "apiKey": e.keys["alice"]})
		resp, err := http.Post(e.a+"/api/session", "application/json", strings.NewReader(string(b)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		c := sessionCookie(resp)
		if resp.StatusCode != http.StatusOK || c == nil {
			t.Fatalf("sign-in: %d", resp.StatusCode)
		}
		return c.Value
	}
	tok := signIn()
	c := must(dialWS(t, e.a, dialOptions{header: http.Header{"Cookie": {auth.CookieName + "=" + tok}}}))
	if err := c.init(nil); err != nil {
		t.Fatalf("connection_init with the cookie: %v", err)
	}
	c.subscribe("1", `subscription { auditEvents(organization: "acme") { action } }`, nil).listen()
	e.waitSubscribed(1)
	signIn() // another browser's sign-in: delivered, the subscription goes on
	if m := c.next(); m.Type != "next" || !strings.Contains(string(m.Payload), "user:login") {
		t.Fatalf("got %s %s, want the other sign-in's user:login", m.Type, m.Payload)
	}
	req, _ := http.NewRequest(http.MethodDelete, e.a+"/api/session", nil)
	req.AddCookie(&http.Cookie{Name: auth.CookieName, Value: tok})
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for m := range c.msgs {
		if strings.Contains(string(m.Payload), "user:logout") {
			t.Errorf("the subscription delivered the sign-out that ended its session: %s", m.Payload)
		}
	}
	if got := websocket.CloseStatus(c.err); got != 4403 || !strings.Contains(c.err.Error(), "session ended") {
		t.Errorf("after sign-out the connection ended with %v, want 4403 session ended", c.err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("the connection closed %v after the sign-out, want at once (the feed brought it)", d)
	}
}

// TestSessionDatabaseUnreachable checks that sign-in, a cookie request and
// sign-out answer 503 with Retry-After when the database cannot be
// reached: a session is never taken for ended because PostgreSQL is away.
func TestSessionDatabaseUnreachable(t *testing.T) {
	e := newSessionEnv(t, sessionOptions{})
	tok := e.mustSignIn("alice")
	gone := storagetest.New(t)
	gone.Close()
	log := slog.New(slog.DiscardHandler)
	srv := httptest.NewServer(server.New(server.Config{Services: app.New(gone), Identity: identity.New(gone, deployment.SelfManaged, log),
		Mode: deployment.SelfManaged, Log: log}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	b, _ := json.Marshal(map[string]string{"username": "alice", "apiKey": e.keys["alice"]})
	for _, tc := range []struct{ name, method, path, token, body string }{
		{"sign-in", http.MethodPost, "/api/session", "", string(b)},
		{"who am I", http.MethodGet, "/api/session", tok, ""},
		{"GraphQL", http.MethodPost, "/graphql", tok, `{"query":"{ viewer { username } }"}`},
		{"sign-out", http.MethodDelete, "/api/session", tok, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			resp, body := e.request(tc.method, tc.path, tc.token, jsonHeader, tc.body)
			if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
				t.Errorf("%s %s = %d %s (Retry-After %q), want 503 with Retry-After", tc.method, tc.path, resp.StatusCode, body, resp.Header.Get("Retry-After"))
			}
			if sessionCookie(resp) != nil {
				t.Errorf("%s %s touched the cookie: %q", tc.method, tc.path, resp.Header.Values("Set-Cookie"))
			}
		})
	}
}

// TestSessionWebSocketPublicOrigin checks that a WebSocket upgrade from
// --public-url's origin is accepted with the cookie whatever the Host (a
// proxy that rewrites it), and that another origin still is not.
func TestSessionWebSocketPublicOrigin(t *testing.T) {
	for _, public := range []string{"https://audit.example.com", "http://[2001:db8::1]:8443"} {
		t.Run(public, func(t *testing.T) {
			e := newSessionEnv(t, sessionOptions{publicURL: public})
			cookie := auth.CookieName + "=" + e.mustSignIn("alice")
			c, resp, err := dialWS(t, e.url, dialOptions{header: http.Header{"Cookie": {cookie}, "Origin": {public}, "Sec-Fetch-Site": {"same-origin"}}})
			if err != nil {
				t.Fatalf("upgrade from the public URL's origin: %v %v", resp, err)
			}
			if err := c.init(nil); err != nil {
				t.Errorf("connection_init with the cookie: %v", err)
			}
			_, resp, err = dialWS(t, e.url, dialOptions{header: http.Header{"Cookie": {cookie}, "Origin": {"https://evil.example"}}})
			if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
				t.Errorf("upgrade from another origin: %v %v, want 403", resp, err)
			}
		})
	}
}
