package browsertest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// withCookie sends a request carrying only the session cookie value.
func (e *env) withCookie(method, path, value, body string) int {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.url+path, strings.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: value})
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	code, _ := e.send(req)
	return code
}

// TestSignOutKillsCookie: Sign out ends the session on the server (the old
// cookie no longer works anywhere, even when sent again), removes the
// cookie from the browser, records user:logout and shows the sign-in page;
// the dashboard then sends the browser to sign in again.
func TestSignOutKillsCookie(t *testing.T) {
	t.Parallel()
	e := newAcme(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme")
	p.waitUsers()
	c := p.cookie()
	if c == nil {
		t.Fatalf("no %s cookie after signing in", sessionCookie)
	}
	old := c.Value
	if code := e.withCookie(http.MethodGet, "/api/session", old, ""); code != http.StatusOK {
		t.Fatalf("GET /api/session with the cookie = %d before sign-out, want 200", code)
	}
	p.click("button#signout")
	p.waitPath("/signin")
	if c := p.cookie(); c != nil {
		t.Errorf("the browser still holds %s after sign-out", sessionCookie)
	}
	if n := e.count(`SELECT count(*) FROM sessions`); n != 0 {
		t.Errorf("sessions after sign-out = %d, want 0", n)
	}
	if n := e.count(`SELECT count(*) FROM audit_events WHERE action = 'user:logout'`); n < 1 {
		t.Errorf("user:logout events = %d, want at least 1", n)
	}
	for _, r := range []struct{ method, path, body string }{
		{http.MethodGet, "/api/session", ""},
		{http.MethodPost, "/graphql", `{"query":"{ viewer { username } }"}`},
		{http.MethodGet, "/admin/users.csv?org=acme", ""},
	} {
		if code := e.withCookie(r.method, r.path, old, r.body); code != http.StatusUnauthorized {
			t.Errorf("%s %s with the signed-out cookie = %d, want 401", r.method, r.path, code)
		}
	}
	p.open("/org/dashboard?org=acme")
	p.waitPath("/signin")
}

// TestLostSessionReturnsToSignIn: when the session ends while a page is
// open (here: the key it was opened with is deleted), the next API answer
// (401) sends the browser to sign in, and signing in returns to the page.
func TestLostSessionReturnsToSignIn(t *testing.T) {
	t.Parallel()
	e := newAcme(t)
	key, _, err := e.ids.CreateAPIKey(e.ctx, e.admin, "alice", "short-lived")
	if err != nil {
		t.Fatal(err)
	}
	p := e.newPage(t)
	p.signIn("alice", key, "/org/dashboard?org=acme")
	p.waitUsers()
	e.exec(`DELETE FROM api_keys WHERE name = 'short-lived'`)
	if n := e.count(`SELECT count(*) FROM sessions`); n != 0 {
		t.Errorf("sessions after deleting their key = %d, want 0", n)
	}
	p.click("#tab-activity")
	until[bool](p, "the sign-in page after the session ended", `location.pathname === "/signin"`)
	rt := eval[string](p, `new URLSearchParams(location.search).get("return_to") || ""`)
	if !strings.HasPrefix(rt, "/org/dashboard") {
		t.Errorf("return_to = %q, want the dashboard page", rt)
	}
	p.fillSignIn("alice", e.key("alice"))
	until[bool](p, "the dashboard after signing in again", `location.pathname === "/org/dashboard"`)
}

// attackPage is a page of another origin that tries to use the signed-in
// browser's session: a form-like POST (no-cors, text/plain) and a JSON
// POST of a mutation to /graphql, and a GraphQL WebSocket relying on the
// cookie (connection_init without credentials) that subscribes once
// acknowledged. window.result is a promise of what happened.
const attackPage = `<!doctype html><html lang="en"><head><title>elsewhere</title></head><body><main><h1>elsewhere</h1>
<form id="f" method="post" enctype="text/plain"><input type="hidden" id="fi"></form>
<script>
const target = TARGET;
const mutation = JSON.stringify({query: 'mutation { updateMember(input: {organization: "acme", username: "bob", role: ADMIN}) { role } }'});
window.result = (async () => {
	const out = {};
	try {
		await fetch(target + "/graphql", {method: "POST", mode: "no-cors", credentials: "include",
			headers: {"Content-Type": "text/plain"}, body: mutation});
		out.noCors = "sent";
	} catch (e) { out.noCors = "error: " + e.message; }
	try {
		const r = await fetch(target + "/graphql", {method: "POST", credentials: "include",
			headers: {"Content-Type": "application/json"}, body: mutation});
		out.cors = "status " + r.status;
	} catch (e) { out.cors = "blocked"; }
	out.ws = await new Promise(resolve => {
		const seen = [];
		let ws;
		try { ws = new WebSocket(target.replace(/^http/, "ws") + "/graphql", "graphql-transport-ws"); }
		catch (e) { resolve({seen: ["throw " + e.message], code: 0}); return; }
		ws.onopen = () => { seen.push("open"); ws.send(JSON.stringify({type: "connection_init", payload: {}})); };
		ws.onmessage = ev => {
			const m = JSON.parse(ev.data); seen.push(m.type);
			if (m.type === "connection_ack") ws.send(JSON.stringify({id: "1", type: "subscribe",
				payload: {query: 'subscription { auditEvents(organization: "acme") { action } }'}}));
		};
		ws.onclose = ev => resolve({seen, code: ev.code});
		setTimeout(() => resolve({seen, code: -1}), 5000);
	});
	return out;
})();
</script></main></body></html>`

// attackResult is what attackPage reports.
type attackResult struct {
	NoCors, Cors string
	WS           struct {
		Seen []string
		Code int
	}
}

// TestCrossSiteRequestsRefused: with alice signed in, a page of another
// site (localhost instead of 127.0.0.1: the cookie is SameSite=Lax, so the
// browser leaves it off) and a page of the same site on another port (the
// browser sends the cookie, so the server itself must refuse) each try a
// POST of a mutation to /graphql and a GraphQL WebSocket: the POSTs that
// reach the server are answered 403, the WebSocket is never acknowledged,
// and bob's role stays as it was. The same WebSocket from the dashboard's
// own page is acknowledged, which shows the test would see a success.
func TestCrossSiteRequestsRefused(t *testing.T) {
	t.Parallel()
	e := newAcme(t)
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(strings.Replace(attackPage, "TARGET", js(e.url), 1)))
	}))
	t.Cleanup(attacker.Close)

	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "/org/dashboard?org=acme")
	p.waitUsers()

	// The control: the same WebSocket from the server's own page works.
	own := eval[attackResult](p, `(async () => { const target = location.origin; const out = {};
		out.ws = await new Promise(resolve => { const seen = [];
			const ws = new WebSocket(target.replace(/^http/, "ws") + "/graphql", "graphql-transport-ws");
			ws.onopen = () => ws.send(JSON.stringify({type: "connection_init", payload: {}}));
			ws.onmessage = ev => { const m = JSON.parse(ev.data); seen.push(m.type); if (m.type === "connection_ack") ws.close(); };
			ws.onclose = ev => resolve({seen, code: ev.code}); setTimeout(() => resolve({seen, code: -1}), 5000); });
		return out; })()`)
	if !strings.Contains(strings.Join(own.WS.Seen, ","), "connection_ack") {
		t.Fatalf("a WebSocket from the dashboard's own page with the cookie got %v (close %d), want connection_ack: the cookie does not work on the WebSocket, so this test proves nothing",
			own.WS.Seen, own.WS.Code)
	}

	for _, site := range []struct{ name, url string }{
		{"another site (localhost)", strings.Replace(attacker.URL, "127.0.0.1", "localhost", 1)},
		{"the same site on another port", attacker.URL},
	} {
		p.allowOrigin(site.url)
		m := p.mark()
		p.do(chromedp.Navigate(site.url + "/"))
		res := eval[attackResult](p, `window.result`)
		t.Logf("%s: %+v", site.name, res)
		if strings.Contains(strings.Join(res.WS.Seen, ","), "connection_ack") {
			t.Errorf("%s: a cross-site WebSocket with the cookie was acknowledged (%v)", site.name, res.WS.Seen)
		}
		if strings.HasPrefix(res.Cors, "status 2") {
			t.Errorf("%s: a cross-site JSON POST to /graphql was answered %s", site.name, res.Cors)
		}
		refused := 0
		for _, r := range p.since(m) {
			if r.method == http.MethodPost && origin(r.url) == e.url && r.status != 0 && r.status != http.StatusForbidden {
				t.Errorf("%s: %s %s answered %d, want 403", site.name, r.method, r.url, r.status)
			}
			if r.method == http.MethodPost && origin(r.url) == e.url && r.status == http.StatusForbidden {
				refused++
			}
		}
		// The no-cors POST is sent whatever the server says: it must have
		// reached the server and been refused there.
		if refused == 0 {
			t.Errorf("%s: no POST to the server was answered 403; requests: %+v", site.name, p.since(m))
		}
		// The classic form: a top-level POST navigation (text/plain).
		m = p.mark()
		eval[bool](p, `(() => { const f = document.getElementById("f"); f.action = `+js(e.url+"/graphql")+`;
			const i = document.getElementById("fi"); i.name = '{"query":"mutation { updateMember(input: {organization: \"acme\", username: \"bob\", role: ADMIN}) { role } }","x":"';
			i.value = '"}'; f.submit(); return true; })()`)
		until[bool](p, "the form's answer", `location.origin === `+js(e.url))
		for _, r := range p.since(m) {
			if r.method == http.MethodPost && origin(r.url) == e.url && r.status != http.StatusForbidden {
				t.Errorf("%s: form POST %s answered %d, want 403", site.name, r.url, r.status)
			}
		}
	}
	if got := memberRole(e, "bob"); got != "MEMBER" {
		t.Errorf("bob's role = %s after the cross-site attempts, want MEMBER", got)
	}
}
