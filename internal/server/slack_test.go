package server_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/logtest"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/notify/integration"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// The secrets of the Slack tests: each must never show in an API answer, a
// page, a log line or a database row in the clear.
const (
	slackClientSecret = "c1ient5ecret0f7heS1ackApp9q"
	slackWebhookURL   = "https://hooks.slack.com/services/T0ACME/B0HOOK/W3bh00kS3cretPart"
	slackPublicURL    = "https://auditgraph.example.com"
)

// fakeSlack answers oauth.v2.access as Slack does, by code: codeOK installs
// into #alerts, other codes get Slack's error answers. It counts calls.
type fakeSlack struct {
	url   string
	calls atomic.Int64
	mu    sync.Mutex
	forms []url.Values
}

const (
	codeOK          = "code-0k-7f3a9d"
	codeInvalid     = "code-inva1id"
	codeBadRedirect = "code-bad-redirect"
)

func newFakeSlack(t *testing.T) *fakeSlack {
	f := &fakeSlack{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.calls.Add(1)
		if r.Method != http.MethodPost || r.URL.Path != "/api/oauth.v2.access" {
			http.Error(w, "unexpected "+r.Method+" "+r.URL.Path, http.StatusNotFound)
			return
		}
		r.ParseForm()
		f.mu.Lock()
		f.forms = append(f.forms, r.PostForm)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch r.PostForm.Get("code") {
		case codeOK:
			fmt.Fprintf(w, `{"ok":true,"app_id":"A1","access_token":"xoxb-not-used","token_type":"bot","scope":"incoming-webhook",
				"team":{"id":"T0ACME","name":"Acme & <Co>"},
				"incoming_webhook":{"channel":"#alerts","channel_id":"C0ALERTS","configuration_url":"https://acme.slack.com/services/B0HOOK","url":%q}}`, slackWebhookURL)
		case codeBadRedirect:
			fmt.Fprint(w, `{"ok":false,"error":"bad_redirect_uri"}`)
		default:
			fmt.Fprint(w, `{"ok":false,"error":"invalid_code"}`)
		}
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL
	return f
}

// slackEnv is a server on real HTTP talking to a fake Slack, with the
// instance admin "admin", the organization acme (admin alice, member bob)
// and the organization other (admin carol). Its clock can be moved.
type slackEnv struct {
	t       *testing.T
	ctx     context.Context
	url     string
	dbURL   string
	store   *storage.Store
	box     *secretbox.Box
	slack   *fakeSlack
	keys    map[string]string
	logs    *logtest.Buffer
	answers []string // every GraphQL answer and page the test received
	// browser holds the install cookie /slack/install set with each state,
	// as the browser that started the install would.
	browser map[string]*http.Cookie

	mu  sync.Mutex
	now time.Time
}

func newSlackEnv(t *testing.T, withKey bool) *slackEnv {
	t.Helper()
	ctx := context.Background()
	dbURL := storagetest.URL(t)
	st := openStore(t, dbURL)
	quiet := slog.New(slog.DiscardHandler)
	ids := identity.New(st, deployment.SelfManaged, quiet)
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: gqlAdminKey, OrgName: "default"}); err != nil {
		t.Fatal(err)
	}
	adminUser, err := st.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	admin := &auth.Principal{User: adminUser}
	e := &slackEnv{t: t, ctx: ctx, dbURL: dbURL, store: st, slack: newFakeSlack(t), keys: map[string]string{"admin": gqlAdminKey},
		logs: &logtest.Buffer{}, now: time.Now().UTC(), browser: map[string]*http.Cookie{}}
	for _, o := range []struct{ org, admin, member string }{{"acme", "alice", "bob"}, {"other", "carol", ""}} {
		if _, err := ids.CreateOrganization(ctx, admin, o.org, "enterprise"); err != nil {
			t.Fatal(err)
		}
		for _, u := range []struct{ name, role string }{{o.admin, access.RoleAdmin}, {o.member, access.RoleMember}} {
			if u.name == "" {
				continue
			}
			if _, err := ids.CreateUser(ctx, admin, identity.NewUser{Username: u.name, Email: u.name + "@x.io", Org: o.org, Role: u.role}); err != nil {
				t.Fatal(err)
			}
			if e.keys[u.name], _, err = ids.CreateAPIKey(ctx, admin, u.name, "test"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if withKey {
		e.box, _ = secretbox.New(bytes.Repeat([]byte{42}, secretbox.KeySize))
	}
	e.url = e.newServer(st)
	return e
}

func openStore(t *testing.T, dbURL string) *storage.Store {
	t.Helper()
	st, err := storage.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// newServer starts a server process of e's deployment over st and returns
// its URL.
func (e *slackEnv) newServer(st *storage.Store) string {
	log := slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv := httptest.NewServer(server.New(server.Config{Services: app.New(st), Identity: identity.New(st, deployment.SelfManaged, log),
		Mode: deployment.SelfManaged, Log: log, Now: e.clock, Secrets: e.box, PublicURL: slackPublicURL,
		SlackAPIURL: e.slack.url + "/api/"}))
	e.t.Cleanup(srv.Close)
	return srv.URL
}

func (e *slackEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.now
}

func (e *slackEnv) advance(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(d)
}

// get sends a GET without following redirects, as username (no
// credentials when empty), and returns the response and its body.
func (e *slackEnv) get(path, username string) (*http.Response, string) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+path, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if username != "" {
		req.SetBasicAuth(username, e.keys[username])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	e.answers = append(e.answers, string(b))
	if loc, err := url.Parse(resp.Header.Get("Location")); err == nil && loc.Query().Get("state") != "" {
		for _, c := range resp.Cookies() {
			if c.Name == "auditgraph_slack_install" {
				e.browser[loc.Query().Get("state")] = c
			}
		}
	}
	return resp, string(b)
}

// gql runs a GraphQL request as username; it returns the data and the
// first error's code and message ("" when none).
func (e *slackEnv) gql(username, query string, vars map[string]any) (data json.RawMessage, code, msg string) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, e.url+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(username, e.keys[username])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	e.answers = append(e.answers, string(b))
	var res gqlResult
	if err := json.Unmarshal(b, &res); err != nil {
		e.t.Fatalf("GraphQL answer %s: %v", b, err)
	}
	if len(res.Errors) > 0 {
		c, _ := res.Errors[0].Extensions["code"].(string)
		return res.Data, c, res.Errors[0].Message
	}
	return res.Data, "", ""
}

// mustGQL runs a GraphQL request that must succeed and decodes its data.
func (e *slackEnv) mustGQL(username, query string, vars map[string]any, out any) {
	e.t.Helper()
	data, code, msg := e.gql(username, query, vars)
	if code != "" {
		e.t.Fatalf("%s as %s: %s %s", query, username, code, msg)
	}
	if err := json.Unmarshal(data, out); err != nil {
		e.t.Fatalf("data %s: %v", data, err)
	}
}

const setSlackApp = `mutation($id: String!, $secret: String!) {
	setSlackApp(clientId: $id, clientSecret: $secret) { configured clientId clientSecretSet redirectUrl updatedAt } }`

func (e *slackEnv) registerApp() {
	e.t.Helper()
	var out struct{ SetSlackApp map[string]any }
	e.mustGQL("admin", setSlackApp, map[string]any{"id": "1111.2222", "secret": slackClientSecret}, &out)
}

// install starts an install of org as username and returns the state of
// the Slack authorize URL it redirects to.
func (e *slackEnv) install(org, username string) string {
	e.t.Helper()
	resp, body := e.get("/slack/install?org="+org, username)
	if resp.StatusCode != http.StatusFound {
		e.t.Fatalf("GET /slack/install?org=%s as %s = %d %s, want 302", org, username, resp.StatusCode, body)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		e.t.Fatal(err)
	}
	return u.Query().Get("state")
}

// callback comes back from Slack to the callback in the browser that
// started the install of q's state, with its install cookie.
func (e *slackEnv) callback(q url.Values) (int, string) {
	e.t.Helper()
	code, body, _ := e.callbackWith(q, e.browser[q.Get("state")])
	return code, body
}

// callbackWith comes back from Slack with the install cookie c (none when
// nil), and returns the cookies the answer set too.
func (e *slackEnv) callbackWith(q url.Values, c *http.Cookie) (int, string, []*http.Cookie) {
	e.t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.url+"/slack/oauth/callback?"+q.Encode(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	if c != nil {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	body := string(b)
	e.answers = append(e.answers, body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		e.t.Errorf("callback Content-Type = %q, want text/html", ct)
	}
	return resp.StatusCode, body, resp.Cookies()
}

func (e *slackEnv) integrations(org string) []entity.Integration {
	e.t.Helper()
	o, err := e.store.OrganizationByName(e.ctx, org)
	if err != nil {
		e.t.Fatal(err)
	}
	ins, err := e.store.OrgIntegrations(e.ctx, o.ID, 0, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	return ins
}

func (e *slackEnv) configChanges(org string) []string {
	e.t.Helper()
	o, err := e.store.OrganizationByName(e.ctx, org)
	if err != nil {
		e.t.Fatal(err)
	}
	cs, err := e.store.ConfigChanges(e.ctx, &o.ID, 0, 100)
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.ActorUsername+" "+c.Action+" "+c.Target)
	}
	return out
}

// leaks reports where any of secrets shows: GraphQL answers and pages, log
// lines, and every row of every table read as JSON, as a dump would.
func (e *slackEnv) leaks(secrets ...string) []string {
	e.t.Helper()
	var tables []string
	if err := e.store.DB().SelectContext(e.ctx, &tables, `SELECT quote_ident(table_name) FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE'`); err != nil {
		e.t.Fatal(err)
	}
	var rows []string
	for _, tb := range tables {
		var rs []string
		if err := e.store.DB().SelectContext(e.ctx, &rs, `SELECT row_to_json(t)::text FROM `+tb+` t`); err != nil {
			e.t.Fatal(err)
		}
		for _, r := range rs {
			rows = append(rows, tb+": "+r)
		}
	}
	var found []string
	for _, s := range secrets {
		for _, r := range rows {
			if strings.Contains(r, s) {
				found = append(found, fmt.Sprintf("%q in database row %s", s, r))
			}
		}
		for _, a := range e.answers {
			if strings.Contains(a, s) {
				found = append(found, fmt.Sprintf("%q in answer %s", s, a))
			}
		}
		for _, l := range strings.Split(e.logs.String(), "\n") {
			if strings.Contains(l, s) {
				found = append(found, fmt.Sprintf("%q in log line %s", s, l))
			}
		}
	}
	if len(tables) < 10 || len(rows) == 0 {
		e.t.Fatalf("read %d tables, %d rows: the dump is not reading the database", len(tables), len(rows))
	}
	return found
}

func TestSlackInstallEndToEnd(t *testing.T) {
	t.Parallel()
	e := newSlackEnv(t, true)

	var app struct {
		SetSlackApp struct {
			Configured, ClientSecretSet bool
			ClientID, RedirectURL       string
		}
	}
	e.mustGQL("admin", setSlackApp, map[string]any{"id": "1111.2222", "secret": slackClientSecret}, &app)
	if a := app.SetSlackApp; !a.Configured || !a.ClientSecretSet || a.ClientID != "1111.2222" || a.RedirectURL != slackPublicURL+"/slack/oauth/callback" {
		t.Errorf("setSlackApp = %+v", a)
	}

	// The install link redirects to Slack's authorize URL.
	resp, body := e.get("/slack/install?org=acme", "alice")
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("GET /slack/install = %d %s, want 302", resp.StatusCode, body)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if loc.Scheme+"://"+loc.Host+loc.Path != "https://slack.com/oauth/v2/authorize" || q.Get("client_id") != "1111.2222" ||
		q.Get("scope") != "incoming-webhook" || q.Get("redirect_uri") != slackPublicURL+"/slack/oauth/callback" || q.Get("state") == "" {
		t.Errorf("install redirects to %s", loc)
	}

	// Slack sends the browser back, without our credentials.
	code, page := e.callback(url.Values{"code": {codeOK}, "state": {q.Get("state")}})
	if code != http.StatusOK || !strings.Contains(page, "#alerts") || !strings.Contains(page, "Acme &amp; &lt;Co&gt;") || !strings.Contains(page, "acme") {
		t.Errorf("callback = %d %s, want 200 naming #alerts in Acme & <Co>, HTML-escaped", code, page)
	}
	if strings.Contains(page, "<Co>") {
		t.Errorf("callback page holds the team name unescaped: %s", page)
	}
	if n := e.slack.calls.Load(); n != 1 {
		t.Errorf("Slack was called %d times, want 1", n)
	}
	form := e.slack.forms[0]
	if form.Get("client_id") != "1111.2222" || form.Get("client_secret") != slackClientSecret || form.Get("code") != codeOK ||
		form.Get("redirect_uri") != slackPublicURL+"/slack/oauth/callback" {
		t.Errorf("oauth.v2.access form = %v", form)
	}

	ins := e.integrations("acme")
	if len(ins) != 1 {
		t.Fatalf("acme has %d integrations, want 1", len(ins))
	}
	in := ins[0]
	if in.Kind != "slack" || in.Status != entity.IntegrationOK || in.SlackChannel != "#alerts" || in.SlackChannelID != "C0ALERTS" ||
		in.SlackTeam != "Acme & <Co>" || in.SlackTeamID != "T0ACME" || in.Name != "#alerts (Acme & <Co>)" {
		t.Errorf("stored integration %+v", in)
	}
	cfg, err := integration.Open(e.box, in)
	if err != nil || cfg.URL.Reveal() != slackWebhookURL {
		t.Errorf("stored webhook opens as %v, %v", cfg.URL, err)
	}
	if got := e.configChanges("acme"); len(got) != 1 || got[0] != "alice integration:connect #alerts (Acme & <Co>)" {
		t.Errorf("config changes of acme = %q", got)
	}

	// The same state a second time is refused before Slack is asked.
	if code, page := e.callback(url.Values{"code": {codeOK}, "state": {q.Get("state")}}); code != http.StatusBadRequest || !strings.Contains(page, "used already") {
		t.Errorf("replayed callback = %d %s, want 400 used already", code, page)
	}
	if n := e.slack.calls.Load(); n != 1 {
		t.Errorf("after a replay Slack was called %d times, want 1", n)
	}

	// Installing the same channel again replaces the old webhook.
	if code, _ := e.callback(url.Values{"code": {codeOK}, "state": {e.install("acme", "alice")}}); code != http.StatusOK {
		t.Errorf("second install = %d, want 200", code)
	}
	ins = e.integrations("acme")
	if len(ins) != 2 || ins[0].Status != entity.IntegrationDisconnected || ins[1].Status != entity.IntegrationOK {
		t.Errorf("after a second install: %+v, want the first disconnected and the second ok", ins)
	}

	// GraphQL shows the integration and the change, to acme's admin.
	var org struct {
		Organization struct {
			Integrations struct {
				Edges []struct {
					Node struct{ Kind, SlackChannel, SlackTeam, Status string }
				}
			}
			ConfigChanges struct {
				TotalCount int
				Edges      []struct {
					Node struct{ Action, ActorUsername, Target string }
				}
			}
		}
	}
	e.mustGQL("alice", `{ organization(name: "acme") {
		integrations { edges { node { kind slackChannel slackTeam status } } }
		configChanges(first: 10) { totalCount edges { node { action actorUsername target createdAt } } } } }`, nil, &org)
	if es := org.Organization.Integrations.Edges; len(es) != 2 || es[1].Node.Kind != "SLACK" || es[1].Node.SlackChannel != "#alerts" ||
		es[1].Node.SlackTeam != "Acme & <Co>" || es[1].Node.Status != "OK" || es[0].Node.Status != "DISCONNECTED" {
		t.Errorf("integrations = %+v, want the replaced one DISCONNECTED and the new one OK", es)
	}
	if cc := org.Organization.ConfigChanges; cc.TotalCount != 3 || cc.Edges[0].Node.Action != "integration:connect" || cc.Edges[1].Node.Action != "integration:disconnect" {
		t.Errorf("configChanges = %+v, want connect, disconnect, connect (newest first)", cc)
	}
	if _, code, _ := e.gql("bob", `{ organization(name: "acme") { configChanges { totalCount } } }`, nil); code != "FORBIDDEN" {
		t.Errorf("configChanges as member bob: code %q, want FORBIDDEN", code)
	}

	var read struct {
		SlackApp map[string]any
	}
	e.mustGQL("admin", `{ slackApp { configured clientId clientSecretSet redirectUrl updatedAt } }`, nil, &read)
	if read.SlackApp["clientSecretSet"] != true || read.SlackApp["clientId"] != "1111.2222" {
		t.Errorf("slackApp = %v", read.SlackApp)
	}
	var inst struct {
		InstanceConfigChanges struct {
			Edges []struct {
				Node struct{ Action, ActorUsername string }
			}
		}
	}
	e.mustGQL("admin", `{ instanceConfigChanges { edges { node { action actorUsername } } } }`, nil, &inst)
	if es := inst.InstanceConfigChanges.Edges; len(es) != 1 || es[0].Node.Action != "slack_app:update" || es[0].Node.ActorUsername != "admin" {
		t.Errorf("instanceConfigChanges = %+v, want admin's slack_app:update", es)
	}
	e.gql("admin", `{ __type(name: "SlackApp") { fields { name } } }`, nil)

	if found := e.leaks(slackClientSecret, slackWebhookURL, "W3bh00kS3cretPart", codeOK); len(found) > 0 {
		t.Errorf("secrets leaked:\n%s", strings.Join(found, "\n"))
	}
}

func TestSlackInstallURLMutation(t *testing.T) {
	t.Parallel()
	e := newSlackEnv(t, true)
	var out struct{ SlackInstallURL string }
	if _, code, msg := e.gql("alice", `mutation { slackInstallURL }`, nil); code != "FAILED_PRECONDITION" || !strings.Contains(msg, "setSlackApp") {
		t.Errorf("slackInstallURL before the app is registered: %s %q, want FAILED_PRECONDITION", code, msg)
	}
	e.registerApp()
	// alice has one organization, so it need not be named. An API answer
	// cannot set the browser's install cookie: the URL is this server's
	// install link, which does, and which asks the browser for credentials.
	e.mustGQL("alice", `mutation { slackInstallURL }`, nil, &out)
	if want := slackPublicURL + "/slack/install?org=acme"; out.SlackInstallURL != want {
		t.Fatalf("slackInstallURL = %q, want %q", out.SlackInstallURL, want)
	}
	if resp, _ := e.get(strings.TrimPrefix(out.SlackInstallURL, slackPublicURL), ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("the install link without credentials = %d, want 401", resp.StatusCode)
	}
	state := e.install("acme", "alice")
	if code, page := e.callback(url.Values{"code": {codeOK}, "state": {state}}); code != http.StatusOK {
		t.Errorf("callback after following the link = %d %s", code, page)
	}
	if _, code, _ := e.gql("bob", `mutation { slackInstallURL(organization: "acme") }`, nil); code != "FORBIDDEN" {
		t.Errorf("slackInstallURL as member bob: code %q, want FORBIDDEN", code)
	}
	if _, code, _ := e.gql("alice", `mutation { slackInstallURL(organization: "other") }`, nil); code != "FORBIDDEN" {
		t.Errorf("slackInstallURL of another org: code %q, want FORBIDDEN", code)
	}
}

func TestSlackCallbackRefusesBadStates(t *testing.T) {
	t.Parallel()
	e := newSlackEnv(t, true)
	e.registerApp()
	valid := e.install("acme", "alice")
	payload, sig, _ := strings.Cut(valid, ".")
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	var st map[string]any
	json.Unmarshal(raw, &st)
	other, _ := e.store.OrganizationByName(e.ctx, "other")
	st["org"] = other.ID
	otherJSON, _ := json.Marshal(st)
	forOtherOrg := base64.RawURLEncoding.EncodeToString(otherJSON) + "." + sig
	badSig := payload + "." + base64.RawURLEncoding.EncodeToString(bytes.Repeat([]byte{9}, 32))

	expired := e.install("acme", "alice")
	e.advance(10*time.Minute + time.Second)
	used := e.install("acme", "alice")
	if code, page := e.callback(url.Values{"error": {"access_denied"}, "state": {used}}); code != http.StatusBadRequest || !strings.Contains(page, "cancelled") {
		t.Fatalf("callback with error=access_denied = %d %s, want 400 saying the install was cancelled", code, page)
	}
	for _, tc := range []struct{ name, state, want string }{
		{"missing", "", "missing"},
		{"garbage", "garbage", "malformed"},
		{"bad signature", badSig, "bad signature"},
		{"state for another org", forOtherOrg, "bad signature"},
		{"expired", expired, "expired"},
		{"reused", used, "used already"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, page := e.callback(url.Values{"code": {codeOK}, "state": {tc.state}})
			if code != http.StatusBadRequest || !strings.Contains(page, tc.want) {
				t.Errorf("callback with a %s state = %d %s, want 400 with %q", tc.name, code, page, tc.want)
			}
		})
	}
	if n := e.slack.calls.Load(); n != 0 {
		t.Errorf("Slack was called %d times for refused states, want 0", n)
	}
	if ins := e.integrations("acme"); len(ins) != 0 {
		t.Errorf("refused callbacks stored %+v", ins)
	}
	// valid was minted before the clock moved: expired as well by now.
	if code, _ := e.callback(url.Values{"code": {codeOK}, "state": {valid}}); code != http.StatusBadRequest {
		t.Errorf("callback 10 minutes late = %d, want 400", code)
	}
	if n := e.slack.calls.Load(); n != 0 {
		t.Errorf("Slack was called %d times, want 0", n)
	}
}

func TestSlackCallbackShowsSlackErrors(t *testing.T) {
	t.Parallel()
	e := newSlackEnv(t, true)
	e.registerApp()
	for _, tc := range []struct {
		code   string
		status int
		want   []string
	}{
		{codeInvalid, http.StatusBadRequest, []string{"invalid_code", "Start the install again"}},
		{codeBadRedirect, http.StatusBadGateway, []string{"bad_redirect_uri", slackPublicURL + "/slack/oauth/callback"}},
	} {
		t.Run(tc.code, func(t *testing.T) {
			status, page := e.callback(url.Values{"code": {tc.code}, "state": {e.install("acme", "alice")}})
			if status != tc.status {
				t.Errorf("callback with Slack answering for %s = %d, want %d", tc.code, status, tc.status)
			}
			for _, w := range tc.want {
				if !strings.Contains(page, w) {
					t.Errorf("callback page for %s does not say %q: %s", tc.code, w, page)
				}
			}
		})
	}
	if n := e.slack.calls.Load(); n != 2 {
		t.Errorf("Slack was called %d times, want 2", n)
	}
	if ins, cs := e.integrations("acme"), e.configChanges("acme"); len(ins) != 0 || len(cs) != 0 {
		t.Errorf("after Slack's refusals: integrations %+v, changes %q; want none", ins, cs)
	}
	if found := e.leaks(slackClientSecret, codeInvalid, codeBadRedirect); len(found) > 0 {
		t.Errorf("secrets leaked:\n%s", strings.Join(found, "\n"))
	}
}

func TestSlackCallbackRechecksTheInstaller(t *testing.T) {
	t.Parallel()
	e := newSlackEnv(t, true)
	e.registerApp()
	state := e.install("acme", "alice")
	var out map[string]any
	e.mustGQL("admin", `mutation { updateMember(input: {organization: "acme", username: "alice", role: MEMBER}) { role } }`, nil, &out)
	if code, page := e.callback(url.Values{"code": {codeOK}, "state": {state}}); code != http.StatusForbidden || !strings.Contains(page, "not an admin") {
		t.Errorf("callback after alice lost the admin role = %d %s, want 403", code, page)
	}
	if n := e.slack.calls.Load(); n != 0 {
		t.Errorf("Slack was called %d times, want 0", n)
	}
}

func TestSlackAppSettingsAccess(t *testing.T) {
	t.Parallel()
	e := newSlackEnv(t, true)
	for _, u := range []string{"alice", "bob"} {
		if _, code, _ := e.gql(u, setSlackApp, map[string]any{"id": "1.2", "secret": slackClientSecret}); code != "FORBIDDEN" {
			t.Errorf("setSlackApp as %s: code %q, want FORBIDDEN", u, code)
		}
		if _, code, _ := e.gql(u, `{ slackApp { configured } }`, nil); code != "FORBIDDEN" {
			t.Errorf("slackApp as %s: code %q, want FORBIDDEN", u, code)
		}
	}
	if resp, _ := e.get("/slack/install?org=acme", "alice"); resp.StatusCode != http.StatusConflict {
		t.Errorf("install before the app is registered = %d, want 409", resp.StatusCode)
	}
	for _, tc := range []struct{ id, secret, want string }{
		{"", slackClientSecret, "clientId is empty"},
		{"1.2", "", "clientSecret is empty"},
		{"1.2", "with space " + slackClientSecret, "clientSecret holds spaces"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			_, code, msg := e.gql("admin", setSlackApp, map[string]any{"id": tc.id, "secret": tc.secret})
			if code != "BAD_USER_INPUT" || !strings.Contains(msg, tc.want) {
				t.Errorf("setSlackApp(%q, …): %s %q, want BAD_USER_INPUT %q", tc.id, code, msg, tc.want)
			}
		})
	}
	e.registerApp()
	if resp, _ := e.get("/slack/install?org=acme", "bob"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("install as member bob = %d, want 403", resp.StatusCode)
	}
	if resp, _ := e.get("/slack/install?org=other", "alice"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("install of another org = %d, want 403", resp.StatusCode)
	}
	if resp, _ := e.get("/slack/install?org=acme", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("install without credentials = %d, want 401", resp.StatusCode)
	}
	e.install("acme", "admin")
	var cleared struct {
		ClearSlackApp struct{ Configured, ClientSecretSet bool }
	}
	e.mustGQL("admin", `mutation { clearSlackApp { configured clientSecretSet } }`, nil, &cleared)
	if cleared.ClearSlackApp.Configured || cleared.ClearSlackApp.ClientSecretSet {
		t.Errorf("clearSlackApp = %+v, want unconfigured", cleared.ClearSlackApp)
	}
	if found := e.leaks(slackClientSecret); len(found) > 0 {
		t.Errorf("secrets leaked:\n%s", strings.Join(found, "\n"))
	}
}

func TestSlackWithoutInstanceKey(t *testing.T) {
	t.Parallel()
	e := newSlackEnv(t, false)
	for _, q := range []string{
		`mutation { setSlackApp(clientId: "1.2", clientSecret: "` + slackClientSecret + `") { configured } }`,
		`mutation { createWebhookIntegration(organization: "acme", name: "hook", url: "https://example.com/hook") { signingSecret } }`,
	} {
		if _, code, msg := e.gql("admin", q, nil); code != "FAILED_PRECONDITION" || !strings.Contains(msg, "AUDITGRAPH_SECRET_KEY") {
			t.Errorf("%s without a key: %s %q, want FAILED_PRECONDITION naming AUDITGRAPH_SECRET_KEY", q, code, msg)
		}
	}
	var app struct{ SlackApp struct{ Configured bool } }
	e.mustGQL("admin", `{ slackApp { configured } }`, nil, &app)
	if resp, body := e.get("/slack/install?org=acme", "alice"); resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(body, "AUDITGRAPH_SECRET_KEY") {
		t.Errorf("install without a key = %d %s, want 503 naming the key", resp.StatusCode, body)
	}
	if code, _ := e.callback(url.Values{"code": {codeOK}, "state": {"x.y"}}); code != http.StatusServiceUnavailable {
		t.Errorf("callback without a key = %d, want 503", code)
	}
	if n := e.slack.calls.Load(); n != 0 {
		t.Errorf("Slack was called %d times, want 0", n)
	}
}

func TestWebhookIntegrations(t *testing.T) {
	t.Parallel()
	e := newSlackEnv(t, true)
	const create = `mutation($org: String!, $name: String!, $url: String!, $secret: String) {
		createWebhookIntegration(organization: $org, name: $name, url: $url, signingSecret: $secret) {
			signingSecret integration { id name kind status } } }`
	const hookURL = "https://receiver.example.com/hooks/Rec3iverT0ken"
	var made struct {
		CreateWebhookIntegration struct {
			SigningSecret *string
			Integration   struct{ ID, Name, Kind, Status string }
		}
	}
	e.mustGQL("alice", create, map[string]any{"org": "acme", "name": "siem", "url": hookURL}, &made)
	got := made.CreateWebhookIntegration
	if got.SigningSecret == nil || len(*got.SigningSecret) != 64 || got.Integration.Kind != "WEBHOOK" || got.Integration.Status != "OK" {
		t.Fatalf("createWebhookIntegration = %+v, want a generated 64-character secret", got)
	}
	generated := *got.SigningSecret
	cfg, err := integration.Open(e.box, e.integrations("acme")[0])
	if err != nil || cfg.URL.Reveal() != hookURL || cfg.SigningSecret.Reveal() != generated {
		t.Errorf("stored webhook opens as %v, %v", cfg, err)
	}

	const given = "g1venSigningSecretOf32Characters"
	e.mustGQL("alice", create, map[string]any{"org": "acme", "name": "second", "url": hookURL, "secret": given}, &made)
	if made.CreateWebhookIntegration.SigningSecret != nil {
		t.Errorf("a given signing secret is returned: %v", *made.CreateWebhookIntegration.SigningSecret)
	}
	for _, tc := range []struct {
		vars       map[string]any
		code, want string
	}{
		{map[string]any{"org": "acme", "name": "siem", "url": hookURL}, "CONFLICT", `integration called "siem"`},
		{map[string]any{"org": "acme", "name": "ftp", "url": "ftp://receiver.example.com/Rec3iverT0ken"}, "BAD_USER_INPUT", `scheme "ftp"`},
		{map[string]any{"org": "acme", "name": "nohost", "url": "https:///Rec3iverT0ken"}, "BAD_USER_INPUT", "no host"},
		{map[string]any{"org": "acme", "name": "short", "url": hookURL, "secret": "sh0rtS3cret"}, "BAD_USER_INPUT", "at least 16"},
		{map[string]any{"org": "acme", "name": "", "url": hookURL}, "BAD_USER_INPUT", "name is empty"},
		{map[string]any{"org": "acme", "name": "bad\nname", "url": hookURL}, "BAD_USER_INPUT", "no control characters"},
		{map[string]any{"org": "other", "name": "x", "url": hookURL}, "FORBIDDEN", "not an admin"},
		// Refused as an organization alice does not administer, so that the
		// refusal does not tell which organizations exist.
		{map[string]any{"org": "nowhere", "name": "x", "url": hookURL}, "FORBIDDEN", `not an admin of organization "nowhere"`},
	} {
		t.Run(tc.code+" "+tc.want, func(t *testing.T) {
			_, code, msg := e.gql("alice", create, tc.vars)
			if code != tc.code || !strings.Contains(msg, tc.want) {
				t.Errorf("createWebhookIntegration(%v): %s %q, want %s with %q", tc.vars, code, msg, tc.code, tc.want)
			}
		})
	}
	if _, code, _ := e.gql("bob", create, map[string]any{"org": "acme", "name": "x", "url": hookURL}); code != "FORBIDDEN" {
		t.Errorf("createWebhookIntegration as member bob: %s, want FORBIDDEN", code)
	}

	const disconnect = `mutation($id: ID!) { disconnectIntegration(id: $id) { status statusReason } }`
	id := got.Integration.ID
	if _, code, _ := e.gql("bob", disconnect, map[string]any{"id": id}); code != "FORBIDDEN" {
		t.Errorf("disconnectIntegration as member bob: %s, want FORBIDDEN", code)
	}
	if _, code, _ := e.gql("carol", disconnect, map[string]any{"id": id}); code != "FORBIDDEN" {
		t.Errorf("disconnectIntegration as another org's admin: %s, want FORBIDDEN", code)
	}
	var dis struct {
		DisconnectIntegration struct{ Status, StatusReason string }
	}
	e.mustGQL("alice", disconnect, map[string]any{"id": id}, &dis)
	if dis.DisconnectIntegration.Status != "DISCONNECTED" {
		t.Errorf("disconnectIntegration = %+v", dis.DisconnectIntegration)
	}
	if _, code, msg := e.gql("alice", disconnect, map[string]any{"id": id}); code != "BAD_USER_INPUT" || !strings.Contains(msg, "disconnected already") {
		t.Errorf("second disconnect: %s %q, want BAD_USER_INPUT", code, msg)
	}
	// Refused as another organization's integration is.
	if _, code, _ := e.gql("alice", disconnect, map[string]any{"id": "999999"}); code != "FORBIDDEN" {
		t.Errorf("disconnect of no integration: %s, want FORBIDDEN", code)
	}
	if _, code, _ := e.gql("admin", disconnect, map[string]any{"id": "999999"}); code != "NOT_FOUND" {
		t.Errorf("disconnect of no integration as the instance admin: %s, want NOT_FOUND", code)
	}
	want := []string{"alice integration:disconnect siem", "alice integration:connect second", "alice integration:connect siem"}
	if got := e.configChanges("acme"); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("config changes = %q, want %q", got, want)
	}
	// The generated secret was shown once, in the creation's answer; it must
	// be nowhere else.
	e.answers = e.answers[1:]
	if found := e.leaks(hookURL, "Rec3iverT0ken", generated, given); len(found) > 0 {
		t.Errorf("secrets leaked:\n%s", strings.Join(found, "\n"))
	}
}

// Two server processes on one database, the same state sent to both at
// once: exactly one install goes through.
func TestSlackStateIsSingleUseAcrossServers(t *testing.T) {
	t.Parallel()
	e := newSlackEnv(t, true)
	e.registerApp()
	second := e.newServer(openStore(t, e.dbURL))
	for round := 0; round < 5; round++ {
		state := e.install("acme", "alice")
		q := url.Values{"code": {codeOK}, "state": {state}}.Encode()
		cookie := e.browser[state]
		codes := make(chan int, 2)
		for _, base := range []string{e.url, second} {
			go func() {
				req, _ := http.NewRequest(http.MethodGet, base+"/slack/oauth/callback?"+q, nil)
				req.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					codes <- 0
					return
				}
				resp.Body.Close()
				codes <- resp.StatusCode
			}()
		}
		a, b := <-codes, <-codes
		if min(a, b) != http.StatusOK || max(a, b) != http.StatusBadRequest {
			t.Errorf("round %d: one state at two servers answered %d and %d, want 200 and 400", round, a, b)
		}
	}
	if n := e.slack.calls.Load(); n != 5 {
		t.Errorf("Slack was called %d times for 5 states, want 5", n)
	}
}
