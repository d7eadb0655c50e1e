package browsertest_test

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// adminKey is the instance admin's API key, set at bootstrap as
// AUDITGRAPH_ADMIN_API_KEY would set it.
const adminKey = "b70e5e7b70e5e7b70e5e7b70e5e7b70e5e7b70e5"

// sessionCookie is the name of the dashboard's session cookie.
const sessionCookie = "auditgraph_session"

// wait bounds each wait for the page (an element, a text, a request).
const wait = 15 * time.Second

// ---------------------------------------------------------------------------
// The server and its data

// env is a server on real HTTP (on loopback) over a fresh database, in one
// deployment mode, with the instance admin "admin".
type env struct {
	t     testing.TB
	ctx   context.Context
	mode  deployment.Mode
	store *storage.Store
	ids   *identity.Service
	admin *auth.Principal
	url   string // http://127.0.0.1:PORT, the origin every page request must go to
	keys  map[string]string
	// today is the current UTC day at midnight: seeded activity is placed
	// relative to it, since the server and the browser run on the real clock
	// (a cookie's expiry is the browser's business).
	today time.Time
}

// newEnv starts a server in mode. In self-managed and dedicated mode the
// bootstrap also makes the organization "default" with admin as its admin.
func newEnv(t testing.TB, mode deployment.Mode) *env {
	t.Helper()
	ctx := context.Background()
	st := storagetest.New(t)
	log := slog.New(slog.DiscardHandler)
	if os.Getenv("BROWSERTEST_LOG") != "" {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	ids := identity.New(st, mode, log)
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: adminKey, OrgName: "default"}); err != nil {
		t.Fatal(err)
	}
	admin, err := st.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	e := &env{t: t, ctx: ctx, mode: mode, store: st, ids: ids, admin: &auth.Principal{User: admin},
		keys: map[string]string{"admin": adminKey}, today: time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)}
	srv := httptest.NewServer(server.New(server.Config{Services: app.New(st), Identity: ids, Mode: mode, Log: log}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// person is a user to create in an organization.
type person struct {
	username, name, role string
	// added is the membership's date added (zero: now).
	added time.Time
	// active lists the times the user was active in the organization.
	active []time.Time
}

// org creates the organization name with the members given.
func (e *env) org(name string, people ...person) {
	e.t.Helper()
	if _, err := e.ids.CreateOrganization(e.ctx, e.admin, name, "enterprise"); err != nil {
		e.t.Fatal(err)
	}
	e.add(name, people...)
}

// add creates users as members of org, with their date added and activity.
func (e *env) add(org string, people ...person) {
	e.t.Helper()
	for _, p := range people {
		if p.role == "" {
			p.role = "member"
		}
		if _, err := e.ids.CreateUser(e.ctx, e.admin, identity.NewUser{Username: p.username, Name: p.name,
			Email: p.username + "@example.com", Org: org, Role: p.role}); err != nil {
			e.t.Fatalf("CreateUser(%s in %s): %v", p.username, org, err)
		}
		if !p.added.IsZero() {
			e.exec(`UPDATE memberships SET added_at = $1 WHERE user_id = (SELECT id FROM users WHERE username = $2)
				AND org_id = (SELECT id FROM organizations WHERE name = $3)`, p.added, p.username, org)
		}
		e.active(p.username, p.active...)
	}
}

// join makes an existing user a member of org too.
func (e *env) join(org, username, role string) {
	e.t.Helper()
	e.exec(`INSERT INTO memberships (org_id, user_id, role, accepted_at)
		SELECT o.id, u.id, $3, now() FROM organizations o, users u WHERE o.name = $1 AND u.username = $2`, org, username, role)
}

// active records activity of username at each of the times, in every
// organization the user belongs to.
func (e *env) active(username string, at ...time.Time) {
	e.t.Helper()
	if len(at) == 0 {
		return
	}
	u, err := e.store.UserByUsername(e.ctx, username)
	if err != nil {
		e.t.Fatalf("UserByUsername(%s): %v", username, err)
	}
	acts := make([]storage.Activity, len(at))
	for i, t := range at {
		acts[i] = storage.Activity{UserID: u.ID, At: t}
	}
	if err := e.store.RecordActivity(e.ctx, acts); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) exec(query string, args ...any) {
	e.t.Helper()
	if _, err := e.store.DB().ExecContext(e.ctx, query, args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
}

// count returns the single integer query answers.
func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	var n int
	if err := e.store.DB().GetContext(e.ctx, &n, query, args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	return n
}

// key returns username's API key, creating one the first time.
func (e *env) key(username string) string {
	e.t.Helper()
	if k, ok := e.keys[username]; ok {
		return k
	}
	k, _, err := e.ids.CreateAPIKey(e.ctx, e.admin, username, "browser test")
	if err != nil {
		e.t.Fatalf("CreateAPIKey(%s): %v", username, err)
	}
	e.keys[username] = k
	return k
}

// get fetches path as username (HTTP Basic) outside the browser.
func (e *env) get(path, username string) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodGet, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth(username, e.key(username))
	return e.send(req)
}

func (e *env) send(req *http.Request) (int, []byte) {
	e.t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return resp.StatusCode, b
}

// gql runs a GraphQL query as username outside the browser and decodes its
// data into out; any error fails the test.
func (e *env) gql(username, query string, vars map[string]any, out any) {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		e.t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.url+"/graphql", strings.NewReader(string(body)))
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth(username, e.key(username))
	req.Header.Set("Content-Type", "application/json")
	code, b := e.send(req)
	var res struct {
		Data   json.RawMessage
		Errors []struct{ Message string }
	}
	if err := json.Unmarshal(b, &res); err != nil || code != http.StatusOK || len(res.Errors) > 0 {
		e.t.Fatalf("POST /graphql %s as %s = %d %s", query, username, code, b)
	}
	if err := json.Unmarshal(res.Data, out); err != nil {
		e.t.Fatalf("data of %s: %v", query, err)
	}
}

// day returns the UTC midnight n days before today, plus the hours given.
func (e *env) day(n int, hours ...int) time.Time {
	d := e.today.AddDate(0, 0, -n)
	for _, h := range hours {
		d = d.Add(time.Duration(h) * time.Hour)
	}
	return d
}

// ---------------------------------------------------------------------------
// The browser

// chromiumNames are the commands tried, in order, to find Chromium.
var chromiumNames = []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"}

// chromium returns the path of the browser, skipping the test without one
// (failing it under CI=true, where .ci/run installs it).
func chromium(t testing.TB) string {
	t.Helper()
	for _, n := range chromiumNames {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	msg := fmt.Sprintf("no Chromium found (tried %s on PATH); install Debian's chromium", strings.Join(chromiumNames, ", "))
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// page is one Chromium tab (in a browser of its own, so each test has its
// own cookies) that records what it requests.
type page struct {
	t   testing.TB
	e   *env
	ctx context.Context

	mu        sync.Mutex
	requests  []request
	byID      map[network.RequestID]int
	downloads map[string]string // GUID → file path, once complete
	// origins are the origins besides the server's that requests may go to
	// (the cross-site tests' own pages).
	origins map[string]bool

	dir string // downloads land here
}

// request is one network request a page made.
type request struct {
	url, method, typ string
	post             string
	status           int64
	// bytes is what came over the network for it (headers and body;
	// 0 when served from the cache).
	bytes float64
	done  bool
}

// viewport sizes.
const (
	desktopW, desktopH = 1280, 800
	phoneW, phoneH     = 390, 844
)

// newPage starts Chromium with a 1280×800 viewport, light colour scheme,
// recording the tab's network requests and downloads. When the test ends it
// fails the test for any request that went to another origin than the
// server's.
func (e *env) newPage(t testing.TB) *page {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.WindowSize(desktopW, desktopH),
		chromedp.DisableGPU,
		chromedp.Flag("lang", "en-US"),
		// A request to a private address is what these tests make on
		// purpose (a page of another origin on loopback).
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,LocalNetworkAccessChecks,PrivateNetworkAccessSendPreflights"),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	p := &page{t: t, e: e, ctx: ctx, byID: map[network.RequestID]int{}, downloads: map[string]string{},
		origins: map[string]bool{}, dir: t.TempDir()}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		t.Fatalf("start Chromium (%s): %v", path, err)
	}
	if err := chromedp.Listen(ctx, p.record); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.ListenBrowser(ctx, p.recordBrowser); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllowAndName, DownloadPath: p.dir, EventsEnabled: new(true),
	}); err != nil {
		t.Fatal(err)
	}
	p.viewport(desktopW, desktopH, false)
	p.colorScheme("light")
	t.Cleanup(p.checkOrigins)
	return p
}

// record is called for each event of the tab.
func (p *page) record(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *network.EventRequestWillBeSent:
		r := request{url: ev.Request.URL, method: ev.Request.Method, typ: string(ev.Type)}
		for _, d := range ev.Request.PostDataEntries {
			r.post += string(d.Bytes)
		}
		p.byID[ev.RequestID] = len(p.requests)
		p.requests = append(p.requests, r)
	case *network.EventWebSocketCreated:
		p.byID[ev.RequestID] = len(p.requests)
		p.requests = append(p.requests, request{url: ev.URL, method: "GET", typ: "WebSocket"})
	case *network.EventResponseReceived:
		if i, ok := p.byID[ev.RequestID]; ok {
			p.requests[i].status = ev.Response.Status
		}
	case *network.EventWebSocketHandshakeResponseReceived:
		if i, ok := p.byID[ev.RequestID]; ok {
			p.requests[i].status = ev.Response.Status
		}
	case *network.EventLoadingFinished:
		if i, ok := p.byID[ev.RequestID]; ok {
			p.requests[i].bytes, p.requests[i].done = ev.EncodedDataLength, true
		}
	}
}

// recordBrowser is called for each event of the browser.
func (p *page) recordBrowser(ev any) {
	if ev, ok := ev.(*browser.EventDownloadProgress); ok && ev.State == browser.DownloadProgressStateCompleted {
		p.mu.Lock()
		defer p.mu.Unlock()
		path := ev.FilePath
		if path == "" {
			path = filepath.Join(p.dir, ev.GUID)
		}
		p.downloads[ev.GUID] = path
	}
}

// origin returns the origin of a URL, ws(s) counted as http(s).
func origin(u string) string {
	x, err := url.Parse(u)
	if err != nil {
		return u
	}
	scheme := x.Scheme
	switch scheme {
	case "ws":
		scheme = "http"
	case "wss":
		scheme = "https"
	}
	return scheme + "://" + x.Host
}

// checkOrigins fails the test for every request made to another origin than
// the server's.
func (p *page) checkOrigins() {
	for _, r := range p.foreign() {
		p.t.Errorf("request to another origin: %s %s (%s); every request must go to %s", r.method, r.url, r.typ, p.e.url)
	}
}

// foreign returns the requests made to another origin than the server's
// (data: and blob: URLs are no requests to anyone).
func (p *page) foreign() []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []request
	for _, r := range p.requests {
		if strings.HasPrefix(r.url, "data:") || strings.HasPrefix(r.url, "blob:") || r.url == "about:blank" {
			continue
		}
		if o := origin(r.url); o != p.e.url && !p.origins[o] {
			out = append(out, r)
		}
	}
	return out
}

// allowOrigin lets the page request u's origin (a test's own page elsewhere).
func (p *page) allowOrigin(u string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.origins[origin(u)] = true
}

// mark returns the number of requests recorded so far, for since.
func (p *page) mark() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.requests)
}

// since returns the requests recorded after mark m.
func (p *page) since(m int) []request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]request(nil), p.requests[m:]...)
}

// graphqlSince returns the POST /graphql bodies sent after mark m.
func (p *page) graphqlSince(m int) []string {
	var out []string
	for _, r := range p.since(m) {
		if r.method == http.MethodPost && strings.HasSuffix(strings.SplitN(r.url, "?", 2)[0], "/graphql") {
			out = append(out, r.post)
		}
	}
	return out
}

// viewport sets the size of the page; mobile emulates a phone.
func (p *page) viewport(w, h int64, mobile bool) {
	p.t.Helper()
	var opts []chromedp.EmulateViewportOption
	if mobile {
		opts = append(opts, chromedp.EmulateMobile, chromedp.EmulateTouch, chromedp.EmulateScale(2))
	}
	p.do(chromedp.EmulateViewport(w, h, opts...))
}

// colorScheme emulates prefers-color-scheme ("light" or "dark").
func (p *page) colorScheme(scheme string) {
	p.t.Helper()
	if _, err := chromedp.Call(p.ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
		Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}},
	}); err != nil {
		p.t.Fatal(err)
	}
}

// do runs actions, failing the test on an error.
func (p *page) do(steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 2*wait)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		p.t.Fatalf("browser: %v (at %s)", err, p.location())
	}
}

// location returns the page's URL, or "?" when it cannot be read.
func (p *page) location() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	loc, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "?"
	}
	return loc
}

// open navigates to path on the server.
func (p *page) open(path string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.e.url + path))
}

// eval evaluates a JavaScript expression and decodes its value into T.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 2*wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("evaluate %.200s: %v (at %s)", expr, err, p.location())
	}
	return v
}

// until waits for a JavaScript expression to be truthy and returns its
// value; what says what the test waits for. It evaluates the expression
// every 50 ms, through navigations (an evaluation a navigation interrupts,
// or that throws, counts as not yet).
func until[T any](p *page, what, expr string) T {
	p.t.Helper()
	type result struct {
		OK bool
		V  T
	}
	deadline := time.Now().Add(wait)
	var last error
	for {
		ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
		r, err := chromedp.Run(ctx, chromedp.Evaluate[result](`(() => { const v = (`+expr+`); return v ? {OK: true, V: v} : {OK: false}; })()`))
		cancel()
		if err == nil && r.OK {
			return r.V
		}
		last = err
		if time.Now().After(deadline) || p.ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	var zero T
	p.t.Fatalf("waiting for %s (%s): not within %s (last error: %v); at %s, page text: %.600s", what, expr, wait, last, p.location(), p.bodyText())
	return zero
}

// bodyText returns the page's visible text, for failure messages.
func (p *page) bodyText() string {
	ctx, cancel := context.WithTimeout(p.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(s), " ")
}

// js quotes s as a JavaScript string.
func js(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// waitFor waits until an element matching the CSS selector is present and
// visible.
func (p *page) waitFor(sel string) {
	p.t.Helper()
	until[bool](p, sel+" visible", `(() => { const el = document.querySelector(`+js(sel)+`);
		if (!el) return false; const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
		return r.width > 0 && r.height > 0 && s.visibility !== "hidden"; })()`)
}

// text returns the trimmed text of the first element matching sel, which
// must exist.
func (p *page) text(sel string) string {
	p.t.Helper()
	return eval[string](p, `(() => { const el = document.querySelector(`+js(sel)+`);
		if (!el) throw new Error("no element "+`+js(sel)+`); return (el.innerText || el.textContent).trim(); })()`)
}

// exists reports whether an element matches sel.
func (p *page) exists(sel string) bool {
	p.t.Helper()
	return eval[bool](p, `document.querySelector(`+js(sel)+`) !== null`)
}

// click clicks the first element matching sel with the mouse, after waiting
// for it to be visible.
func (p *page) click(sel string) {
	p.t.Helper()
	p.waitFor(sel)
	p.do(chromedp.Click(chromedp.CSS(sel)))
}

// typeInto types text into the input matching sel.
func (p *page) typeInto(sel, text string) {
	p.t.Helper()
	p.waitFor(sel)
	p.do(chromedp.SendKeys(chromedp.CSS(sel), text))
}

// choose selects value in the <select> matching sel as a user does (focus,
// keyboard-free change) and fires the input and change events.
func (p *page) choose(sel, value string) {
	p.t.Helper()
	p.waitFor(sel)
	eval[bool](p, `(() => { const el = document.querySelector(`+js(sel)+`);
		if (![...el.options].some(o => o.value === `+js(value)+`)) throw new Error("no option "+`+js(value)+`+" in "+`+js(sel)+`);
		el.focus(); el.value = `+js(value)+`;
		el.dispatchEvent(new Event("input", {bubbles: true})); el.dispatchEvent(new Event("change", {bubbles: true}));
		return true; })()`)
}

// hover moves the mouse to the centre of the first element matching sel.
func (p *page) hover(sel string) {
	p.t.Helper()
	p.waitFor(sel)
	p.do(chromedp.ScrollIntoView(chromedp.CSS(sel)))
	c := eval[[2]float64](p, `(() => { const r = document.querySelector(`+js(sel)+`).getBoundingClientRect();
		return [r.left + r.width/2, r.top + r.height/2]; })()`)
	p.mouseTo(c[0], c[1])
}

// mouseTo moves the mouse to the viewport point x, y.
func (p *page) mouseTo(x, y float64) {
	p.t.Helper()
	p.do(chromedp.MouseEvent(chromedp.MouseMoved, x, y))
}

// path returns the page's path and query.
func (p *page) path() string {
	p.t.Helper()
	u, err := url.Parse(p.location())
	if err != nil {
		p.t.Fatal(err)
	}
	return u.RequestURI()
}

// waitPath waits until the page's path (without the query) is want.
func (p *page) waitPath(want string) {
	p.t.Helper()
	until[bool](p, "path "+want, `location.pathname === `+js(want))
}

// cookie returns the session cookie the browser holds for the server, nil
// when it holds none.
func (p *page) cookie() *network.Cookie {
	p.t.Helper()
	res, err := chromedp.Call(p.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{p.e.url + "/"}})
	if err != nil {
		p.t.Fatal(err)
	}
	for _, c := range res.Cookies {
		if c.Name == sessionCookie {
			return c
		}
	}
	return nil
}

// signIn signs in through the sign-in page (with return_to when not empty)
// and waits until it has left the sign-in page.
func (p *page) signIn(username, key, returnTo string) {
	p.t.Helper()
	path := "/signin"
	if returnTo != "" {
		path += "?return_to=" + url.QueryEscape(returnTo)
	}
	p.open(path)
	p.fillSignIn(username, key)
	until[bool](p, "leaving the sign-in page", `location.pathname !== "/signin"`)
}

// fillSignIn types the credentials into the sign-in form and submits it.
func (p *page) fillSignIn(username, key string) {
	p.t.Helper()
	p.typeInto("#signin-username", username)
	p.typeInto("#signin-key", key)
	p.click("button#signin-submit")
}

// ---------------------------------------------------------------------------
// axe-core

//go:embed testdata/axe.min.js
var axeSource string

// axeViolation is one rule axe-core found broken.
type axeViolation struct {
	ID, Impact, Help string
	Nodes            []string
}

// axe runs axe-core on the page as it is and fails the test for every
// serious or critical violation; what names the page state.
func (p *page) axe(what string) {
	p.t.Helper()
	for _, v := range p.axeViolations() {
		p.t.Errorf("axe-core on %s: %s violation %s (%s) at %s", what, v.Impact, v.ID, v.Help, strings.Join(v.Nodes, "; "))
	}
}

// axeViolations runs axe-core on the page and returns the serious and
// critical violations.
func (p *page) axeViolations() []axeViolation {
	p.t.Helper()
	if !eval[bool](p, `typeof window.axe === "object"`) {
		ctx, cancel := context.WithTimeout(p.ctx, 2*wait)
		defer cancel()
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](axeSource+"\n;true")); err != nil {
			p.t.Fatalf("inject axe-core: %v", err)
		}
	}
	vs := eval[[]axeViolation](p, `axe.run(document, {resultTypes: ["violations"]}).then(r => r.violations
		.filter(v => v.impact === "serious" || v.impact === "critical")
		.map(v => ({ID: v.id, Impact: v.impact, Help: v.help,
			Nodes: v.nodes.slice(0, 5).map(n => n.target.join(" ") + ": " + (n.failureSummary || "").replace(/\s+/g, " "))})))`)
	return vs
}

// ---------------------------------------------------------------------------
// Screenshots

// screenshotsOn reports whether the run writes docs/screenshots (SCREENSHOTS=1).
var screenshotsOn = os.Getenv("SCREENSHOTS") == "1"

// screenshot saves the viewport as docs/screenshots/name.png when
// SCREENSHOTS=1. The mouse is moved away first so no hover state shows,
// unless keepHover.
func (p *page) screenshot(name string) {
	p.t.Helper()
	if !screenshotsOn {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, 2*wait)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	dir := filepath.Join(repoRoot(p.t), "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// repoRoot returns the folder holding go.mod above the test's folder.
func repoRoot(t testing.TB) string {
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's folder")
		}
		dir = parent
	}
}

// ---------------------------------------------------------------------------
// Downloads

// download waits for a download to complete and returns its bytes.
func (p *page) download() []byte {
	p.t.Helper()
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		p.mu.Lock()
		var path string
		for _, f := range p.downloads {
			path = f
		}
		p.mu.Unlock()
		if path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				p.t.Fatal(err)
			}
			return b
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("no download completed within %s", wait)
	return nil
}

// press sends keys (kb.Enter, kb.ArrowLeft, …) to the focused element.
func (p *page) press(keys string) {
	p.t.Helper()
	p.do(chromedp.KeyEvent(keys))
}

// pressEnter presses Enter on the focused element.
func (p *page) pressEnter() { p.press(kb.Enter) }
