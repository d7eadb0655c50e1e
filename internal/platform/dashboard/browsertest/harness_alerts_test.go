package browsertest_test

import (
	"bytes"
	"context"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/slack-go/slack/slacktest"

	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/notify/outbox"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// The Slack app's credentials the instance admin registers on the page,
// and the incoming webhook's secret part Slack hands out: none may show
// on a page.
const (
	alertsClientID      = "4242.7070"
	alertsClientSecret  = "s1ackC1ientS3cretForBrowserTests"
	alertsSlackCode     = "code-from-slacktest-81c2"
	alertsSlackHookPath = "/services/T0ACME/B0HOOK/xH00kS3cretPartOfTheUrl"
)

// slackFake is slack-go's slacktest server with what an install needs:
// Slack's authorize page (/oauth/v2/authorize, a consent page whose Allow
// link goes back to redirect_uri with a code and the state), the OAuth v2
// exchange (/oauth.v2.access, counted) and the incoming webhook it hands
// out (counted).
type slackFake struct {
	srv       *slacktest.Server
	exchanges atomic.Int64
	posts     atomic.Int64
	mu        sync.Mutex
	forms     []url.Values
	messages  []string
	// authorizeQuery is the query of the last authorize page shown.
	authorizeQuery url.Values
}

// slackConsentPage is the fake Slack's authorize page.
var slackConsentPage = template.Must(template.New("consent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Slack: install the app</title></head>
<body><main><h1>Install the app into Acme</h1>
<p>Post to <strong>#alerts</strong>?</p>
<a id="slack-allow" href="{{.Allow}}">Allow</a> <a id="slack-deny" href="{{.Deny}}">Cancel</a>
</main></body></html>`))

func newSlackFake(t *testing.T) *slackFake {
	t.Helper()
	f := &slackFake{}
	f.srv = slacktest.NewTestServer(func(c slacktest.Customize) {
		c.Handle("/oauth/v2/authorize", func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query()
			f.mu.Lock()
			f.authorizeQuery = q
			f.mu.Unlock()
			back := func(v url.Values) string {
				v.Set("state", q.Get("state"))
				return q.Get("redirect_uri") + "?" + v.Encode()
			}
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			slackConsentPage.Execute(w, map[string]string{
				"Allow": back(url.Values{"code": {alertsSlackCode}}),
				"Deny":  back(url.Values{"error": {"access_denied"}}),
			})
		})
		c.Handle("/oauth.v2.access", func(w http.ResponseWriter, r *http.Request) {
			f.exchanges.Add(1)
			r.ParseForm()
			f.mu.Lock()
			f.forms = append(f.forms, r.PostForm)
			f.mu.Unlock()
			w.Header().Set("Content-Type", "application/json")
			if r.PostForm.Get("code") != alertsSlackCode || r.PostForm.Get("client_secret") != alertsClientSecret {
				fmt.Fprint(w, `{"ok":false,"error":"invalid_code"}`)
				return
			}
			fmt.Fprintf(w, `{"ok":true,"app_id":"A1","access_token":"xoxb-unused","token_type":"bot","scope":"incoming-webhook",
				"team":{"id":"T0ACME","name":"Acme"},
				"incoming_webhook":{"channel":"#alerts","channel_id":"C0ALERTS","configuration_url":"https://acme.slack.com/services/B0HOOK","url":%q}}`,
				"http://"+f.srv.ServerAddr+alertsSlackHookPath)
		})
		c.Handle(alertsSlackHookPath, func(w http.ResponseWriter, r *http.Request) {
			f.posts.Add(1)
			b, _ := io.ReadAll(r.Body)
			f.mu.Lock()
			f.messages = append(f.messages, string(b))
			f.mu.Unlock()
			io.WriteString(w, "ok")
		})
	})
	f.srv.Start()
	t.Cleanup(f.srv.Stop)
	return f
}

// authorizeURL is the fake Slack's authorize page.
func (f *slackFake) authorizeURL() string {
	return "http://" + f.srv.ServerAddr + "/oauth/v2/authorize"
}

// hookReceiver is an httptest webhook receiver: while down it answers 503
// with Retry-After: 1, else 204; it keeps every request.
type hookReceiver struct {
	srv  *httptest.Server
	down atomic.Bool
	mu   sync.Mutex
	reqs []hookRequest
}

type hookRequest struct {
	body      []byte
	timestamp string
	signature string
	refused   bool
}

func newHookReceiver(t *testing.T, down bool) *hookReceiver {
	t.Helper()
	r := &hookReceiver{}
	r.down.Store(down)
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		down := r.down.Load()
		r.mu.Lock()
		r.reqs = append(r.reqs, hookRequest{body: b, timestamp: req.Header.Get("X-Auditgraph-Timestamp"),
			signature: req.Header.Get("X-Auditgraph-Signature"), refused: down})
		r.mu.Unlock()
		if down {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "receiver is down for maintenance", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) received() []hookRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]hookRequest(nil), r.reqs...)
}

// newAlertsEnv is newEnv with what alerts need, as `auditgraph serve` wires
// it: the instance key, the public URL (the Slack redirect URL is built
// from it), --slack-api-url and --slack-authorize-url pointing at slack,
// and the alert outbox's worker (polling every 100 ms). It has the
// organization acme: admin alice, member bob.
func newAlertsEnv(t *testing.T, slack *slackFake) *env {
	return newAlertsEnvIn(t, slack, deployment.SelfManaged)
}

// newAlertsEnvIn is newAlertsEnv in mode.
func newAlertsEnvIn(t *testing.T, slack *slackFake, mode deployment.Mode) *env {
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
	box, err := secretbox.New(bytes.Repeat([]byte{7}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	e := &env{t: t, ctx: ctx, mode: mode, store: st, ids: ids, admin: &auth.Principal{User: admin},
		keys: map[string]string{"admin": adminKey}, today: time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)}
	srv := httptest.NewUnstartedServer(nil)
	e.url = "http://" + srv.Listener.Addr().String()
	cfg := server.Config{Services: app.New(st), Identity: ids, Mode: mode, Log: log, Secrets: box, PublicURL: e.url}
	if slack != nil {
		cfg.SlackAPIURL, cfg.SlackAuthorizeURL = slack.srv.GetAPIURL(), slack.authorizeURL()
	}
	srv.Config.Handler = server.New(cfg)
	srv.Start()
	t.Cleanup(srv.Close)

	w, err := outbox.New(outbox.Config{Store: st, Secrets: box, PublicURL: e.url, Poll: 100 * time.Millisecond, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(wctx); close(done) }()
	t.Cleanup(func() { stop(); <-done })

	e.org("acme", person{username: "alice", name: "Alice Admin", role: "admin"}, person{username: "bob", name: "Bob Builder"})
	return e
}

// alertsIngest reports NDJSON events to org through POST /api/v1/audit_events
// as username.
func (e *env) alertsIngest(username, org string, lines ...string) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.url+"/api/v1/audit_events?org="+url.QueryEscape(org),
		strings.NewReader(strings.Join(lines, "\n")+"\n"))
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth(username, e.key(username))
	req.Header.Set("Content-Type", "application/x-ndjson")
	if code, b := e.send(req); code != http.StatusOK {
		e.t.Fatalf("POST /api/v1/audit_events = %d %s", code, b)
	}
}

// openAlerts opens org's Alerts & integrations tab and waits for it to
// have loaded.
func (p *page) openAlerts(org string) {
	p.t.Helper()
	p.open("/org/dashboard?org=" + url.QueryEscape(org) + "&tab=alerts")
	p.waitFor("#panel-alerts")
	p.waitAlerts()
}

// waitAlerts waits until the alerts page shows its integrations and rules
// and is not reloading.
func (p *page) waitAlerts() {
	p.t.Helper()
	until[bool](p, "the alerts page loaded", `document.querySelector("#integrations") && document.querySelector("#alert-rules") &&
		!document.querySelector("#alerts-refresh").disabled`)
}

// integrationText returns the text of the integration called name, waiting
// for it to be listed.
func (p *page) integrationText(name string) string {
	p.t.Helper()
	return until[string](p, "integration "+name+" listed", `(() => { const li = document.querySelector(`+js(`li.integration[data-name=`+js(name)+`]`)+`);
		return li ? li.innerText : ""; })()`)
}

// integrationSel is the CSS selector of the integration called name.
func integrationSel(name string) string { return `li.integration[data-name=` + js(name) + `]` }

// visitURL goes to an absolute URL (another origin's page, such as Slack's).
func (p *page) visitURL(u string) {
	p.t.Helper()
	p.do(chromedp.Navigate(u))
}

// clearField empties the input matching sel as a user deleting its text does.
func (p *page) clearField(sel string) {
	p.t.Helper()
	p.waitFor(sel)
	eval[bool](p, `(() => { const el = document.querySelector(`+js(sel)+`); el.focus(); el.value = "";
		el.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`)
}

// clickCentered clicks the element matching sel with the mouse after scrolling it
// to the middle of the window, clear of the sticky message bar at the top.
func (p *page) clickCentered(sel string) {
	p.t.Helper()
	p.waitFor(sel)
	eval[bool](p, `(() => { document.querySelector(`+js(sel)+`).scrollIntoView({block: "center"}); return true; })()`)
	p.click(sel)
}
