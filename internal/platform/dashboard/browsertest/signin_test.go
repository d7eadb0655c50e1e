package browsertest_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/network"
)

// TestSignInBadKeyRefused: a wrong key, another user's key, an unknown
// username and a deactivated user's own key are each refused on the
// sign-in page with the one message that reveals nothing, and none makes a
// session or a cookie.
func TestSignInBadKeyRefused(t *testing.T) {
	t.Parallel()
	e := newAcme(t)
	bobKey := e.key("bob")
	goneKey := e.key("erin")
	if _, err := e.ids.DeactivateUser(e.ctx, e.admin, "erin"); err != nil {
		t.Fatal(err)
	}
	p := e.newPage(t)
	p.open("/signin")
	p.waitFor("#signin-username")
	form := eval[[]string](p, `(() => { const label = id => { const el = document.getElementById(id);
			return (el.labels && el.labels[0] ? el.labels[0].textContent : el.getAttribute("aria-label") || "").trim(); };
		return [label("signin-username"), label("signin-key"), document.getElementById("signin-key").type,
			document.querySelector("button#signin-submit").textContent.trim()]; })()`)
	if want := []string{"Username", "API key", "password", "Sign in"}; !slices.Equal(form, want) {
		t.Errorf("sign-in form (username label, key label, key type, button) = %q, want %q", form, want)
	}
	p.axe("the sign-in page")
	p.screenshot("signin")
	for _, tc := range []struct{ name, username, key string }{
		{"wrong key", "alice", strings.Repeat("0", 40)},
		{"another user's key", "alice", bobKey},
		{"unknown username", "nobody", bobKey},
		{"deactivated user", "erin", goneKey},
	} {
		p.open("/signin")
		m := p.mark()
		p.fillSignIn(tc.username, tc.key)
		msg := until[string](p, "the sign-in error ("+tc.name+")", `(() => { const el = document.querySelector("#signin-error");
			return el && el.innerText.trim(); })()`)
		if want := "sign-in failed: unknown username or wrong API key"; !strings.Contains(msg, want) {
			t.Errorf("%s: #signin-error = %q, want it to contain %q", tc.name, msg, want)
		}
		if role := eval[string](p, `document.querySelector("#signin-error").getAttribute("role") || ""`); role != "alert" {
			t.Errorf("%s: #signin-error role = %q, want alert", tc.name, role)
		}
		var posted bool
		for _, r := range p.since(m) {
			if r.method == http.MethodPost && strings.HasSuffix(r.url, "/api/session") {
				posted = true
				if r.status != http.StatusUnauthorized {
					t.Errorf("%s: POST /api/session = %d, want 401", tc.name, r.status)
				}
			}
		}
		if !posted {
			t.Errorf("%s: the page sent no POST /api/session", tc.name)
		}
		if path := p.path(); !strings.HasPrefix(path, "/signin") {
			t.Errorf("%s: the page went to %s, want it to stay on /signin", tc.name, path)
		}
		if c := p.cookie(); c != nil {
			t.Errorf("%s: the browser holds a %s cookie after a refused sign-in", tc.name, sessionCookie)
		}
	}
	p.axe("the sign-in page showing an error")
	p.screenshot("signin-error")
	if n := e.count(`SELECT count(*) FROM sessions`); n != 0 {
		t.Errorf("sessions after refused sign-ins = %d, want 0", n)
	}
}

// TestSignInLandsOnUsersTab: signing in on the sign-in page sets the
// session cookie (HttpOnly, SameSite=Lax, Path=/, 256 random bits), stores
// one session, and lands on the dashboard's Users tab showing who is
// signed in.
func TestSignInLandsOnUsersTab(t *testing.T) {
	t.Parallel()
	e := newAcme(t)
	p := e.newPage(t)
	p.signIn("alice", e.key("alice"), "")
	p.waitPath("/org/dashboard")
	rows := p.waitUsers()
	if sel := eval[string](p, `(document.querySelector("#tab-users") || {getAttribute: () => "missing"}).getAttribute("aria-selected")`); sel != "true" {
		t.Errorf("#tab-users aria-selected = %q, want true (the Users tab opens by default)", sel)
	}
	if who := p.text("#whoami"); !strings.Contains(who, "alice") {
		t.Errorf("#whoami = %q, want alice", who)
	}
	if len(rows) != len(acmeNames) {
		t.Errorf("rows = %v, want acme's %d members", rows, len(acmeNames))
	}
	c := p.cookie()
	switch {
	case c == nil:
		t.Fatalf("no %s cookie after signing in", sessionCookie)
	case !c.HTTPOnly || c.SameSite != network.CookieSameSiteLax || c.Path != "/" || c.Secure:
		t.Errorf("cookie HttpOnly=%v SameSite=%s Path=%s Secure=%v; want HttpOnly, Lax, /, not Secure over http",
			c.HTTPOnly, c.SameSite, c.Path, c.Secure)
	case len(c.Value) != 43 || strings.ContainsAny(c.Value, "+/="):
		t.Errorf("cookie value %d characters, want 43 of base64url (32 random bytes)", len(c.Value))
	}
	if n := e.count(`SELECT count(*) FROM sessions`); n != 1 {
		t.Errorf("sessions = %d, want 1", n)
	}
	if eval[bool](p, `document.cookie.includes(`+js(sessionCookie)+`)`) {
		t.Errorf("the page's script can read the session cookie (document.cookie)")
	}
	p.axe("the Users tab")
	p.screenshot("users")

	// The same page at a phone's size, and in dark mode.
	p.viewport(phoneW, phoneH, true)
	p.open("/org/dashboard")
	p.waitUsers()
	p.axe("the Users tab at 390×844")
	p.screenshot("users-phone")
	p.viewport(desktopW, desktopH, false)
	p.colorScheme("dark")
	p.open("/org/dashboard")
	p.waitUsers()
	p.axe("the Users tab, dark")
	p.screenshot("users-dark")

	// The instance admin gets the organization picker; choosing acme opens
	// the same page for it, named in the address.
	a := e.newPage(t)
	a.signIn("admin", adminKey, "")
	a.waitPath("/org/dashboard")
	a.waitUsers()
	a.waitFor("select#org-picker")
	orgs := eval[[]string](a, `[...document.querySelectorAll("select#org-picker option")].map(o => o.value).filter(Boolean).sort()`)
	if !slices.Equal(orgs, []string{"acme", "default"}) {
		t.Errorf("org picker options = %v, want [acme default]", orgs)
	}
	a.choose("select#org-picker", "acme")
	until[bool](a, "org=acme in the address", `new URLSearchParams(location.search).get("org") === "acme"`)
	a.waitOrder("acme chosen in the picker", []string{"alice", "bob", "carol", "dave", "erin"})
	a.axe("the Users tab with the organization picker")
}

// TestSignInReturnTo: a page opened without a session goes to sign-in and,
// once signed in, back to the page (path and query); a return_to that is
// not a local path is ignored, so sign-in never leaves the server.
func TestSignInReturnTo(t *testing.T) {
	t.Parallel()
	e := newAcme(t)
	p := e.newPage(t)
	p.open("/org/dashboard?org=acme&tab=activity")
	until[bool](p, "the sign-in page", `location.pathname === "/signin"`)
	if rt := eval[string](p, `new URLSearchParams(location.search).get("return_to") || ""`); rt != "/org/dashboard?org=acme&tab=activity" {
		t.Errorf("return_to = %q, want /org/dashboard?org=acme&tab=activity", rt)
	}
	p.fillSignIn("alice", e.key("alice"))
	until[bool](p, "the Activity tab after sign-in", `location.pathname === "/org/dashboard" &&
		new URLSearchParams(location.search).get("tab") === "activity"`)

	for _, bad := range []string{"//evil.example/x", "https://evil.example/", `/\evil.example`, "javascript:alert(1)"} {
		q := e.newPage(t)
		q.signIn("alice", e.key("alice"), bad)
		until[bool](q, "a page of the server after sign-in with return_to="+bad, `location.origin === `+js(e.url)+` && location.pathname !== "/signin"`)
	}
}
