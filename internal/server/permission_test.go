package server_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/graph"
	"github.com/auditgraph/auditgraph/internal/alerting/connect"
	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/log/live"
	"github.com/auditgraph/auditgraph/internal/log/verify"
	"github.com/auditgraph/auditgraph/internal/platform/dashboard"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// The roles of the permission matrix, each a user of the fixture (none for
// "no credentials").
const (
	rInstanceAdmin  = "instance admin"
	rOrgAdmin       = "org admin"
	rMember         = "member"
	rViewer         = "viewer"
	rServiceAccount = "service account"
	rOtherAdmin     = "other organization's admin"
	rDeactivated    = "deactivated user"
	rAnonymous      = "no credentials"
)

var matrixRoles = []string{rInstanceAdmin, rOrgAdmin, rMember, rViewer, rServiceAccount, rOtherAdmin, rDeactivated, rAnonymous}

// matrixUsers names each role's user: acme's admin alice, member bob and
// viewer vera, the service account bot of acme's team bots, oscar who
// administers the organization other, and gone, a deactivated member of acme.
var matrixUsers = map[string]string{
	rInstanceAdmin: "admin", rOrgAdmin: "alice", rMember: "bob", rViewer: "vera",
	rServiceAccount: "bot", rOtherAdmin: "oscar", rDeactivated: "gone",
}

// Outcomes of a request.
type outcome int

const (
	// allowed: the request succeeds.
	allowed outcome = iota
	// forbidden: refused with FORBIDDEN (403 over REST).
	forbidden
	// hidden: refused, and the same request naming a target that does not
	// exist is refused with the same code and the same message, so that the
	// caller cannot tell which targets exist.
	hidden
	// unauthenticated: 401 before anything runs (the WebSocket closes with
	// 4403).
	unauthenticated
)

func (o outcome) String() string {
	return [...]string{"allowed", "FORBIDDEN", "refused as if missing", "UNAUTHENTICATED"}[o]
}

// expect returns the outcomes of the eight roles, given who is allowed and
// how each authenticated role that is not allowed is refused.
func expect(allowedRoles []string, refused outcome, except ...any) map[string]outcome {
	m := map[string]outcome{rDeactivated: unauthenticated, rAnonymous: unauthenticated}
	for _, r := range matrixRoles[:6] {
		m[r] = refused
		if slices.Contains(allowedRoles, r) {
			m[r] = allowed
		}
	}
	for i := 0; i+1 < len(except); i += 2 {
		m[except[i].(string)] = except[i+1].(outcome)
	}
	return m
}

var (
	everyone  = []string{rInstanceAdmin, rOrgAdmin, rMember, rViewer, rServiceAccount, rOtherAdmin}
	acmeAll   = []string{rInstanceAdmin, rOrgAdmin, rMember, rViewer, rServiceAccount}
	acmeAdmin = []string{rInstanceAdmin, rOrgAdmin}
	instance  = []string{rInstanceAdmin}
)

type matrixEnv struct {
	t    *testing.T
	url  string
	keys map[string]string
	// n counts the names made, across the subtests' copies of the env.
	n *int
	// hook is an integration of acme, for the rules' integrations.
	hook string
}

func newMatrixEnv(t *testing.T, mode deployment.Mode) *matrixEnv {
	t.Helper()
	ctx := context.Background()
	dbURL := storagetest.URL(t)
	st, err := storage.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	ids := identity.New(st, mode, log)
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: gqlAdminKey, OrgName: "default"}); err != nil {
		t.Fatal(err)
	}
	adminUser, err := st.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	admin := &auth.Principal{User: adminUser}
	e := &matrixEnv{t: t, keys: map[string]string{"admin": gqlAdminKey}, n: new(int)}
	for _, o := range []string{"acme", "other"} {
		if _, err := ids.CreateOrganization(ctx, admin, o, "enterprise"); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []struct{ name, org, role string }{
		{"alice", "acme", access.RoleAdmin}, {"bob", "acme", access.RoleMember}, {"vera", "acme", access.RoleViewer},
		{"gone", "acme", access.RoleMember}, {"oscar", "other", access.RoleAdmin},
	} {
		if _, err := ids.CreateUser(ctx, admin, identity.NewUser{Username: u.name, Email: u.name + "@x.io", Org: u.org, Role: u.role}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ids.CreateTeam(ctx, admin, "acme", "bots"); err != nil {
		t.Fatal(err)
	}
	if _, err := ids.CreateServiceAccount(ctx, admin, "acme", "bots", "bot", "Bot"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob", "vera", "gone", "oscar", "bot"} {
		if e.keys[u], _, err = ids.CreateAPIKey(ctx, admin, u, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ids.DeactivateUser(ctx, admin, "gone"); err != nil {
		t.Fatal(err)
	}
	hub := live.New(live.Config{URL: dbURL, Store: st, Log: log})
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { hub.Run(runCtx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	select {
	case <-hub.Ready():
	case <-time.After(10 * time.Second):
		t.Fatal("hub not listening after 10s")
	}
	box, err := secretbox.New(bytes.Repeat([]byte{42}, secretbox.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Config{Services: app.New(st), Identity: ids, Mode: mode, Log: log,
		Live: hub, Secrets: box, PublicURL: "https://auditgraph.example", Verify: &verify.Service{Store: st, Keys: []ed25519.PublicKey{make(ed25519.PublicKey, ed25519.PublicKeySize)}}}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	e.hook = e.webhook()
	return e
}

// name returns a name not used before.
func (e *matrixEnv) name(prefix string) string {
	*e.n++
	return fmt.Sprintf("%s%d", prefix, *e.n)
}

// authz returns the Authorization header of role.
func (e *matrixEnv) authz(role string) string {
	if role == rAnonymous {
		return ""
	}
	u := matrixUsers[role]
	return basicAuth(u, e.keys[u])
}

func (e *matrixEnv) do(method, path, authz string, body io.Reader) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.client(authz).Do(req)
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

// client returns an HTTP client that does not follow redirects. Refused
// credentials are sent from a fresh loopback address each time, so that the
// server's throttling of failed sign-ins (per address) does not answer 429.
func (e *matrixEnv) client(authz string) *http.Client {
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if authz == e.authz(rDeactivated) {
		*e.n++
		src := &net.TCPAddr{IP: net.IPv4(127, 1, byte(*e.n>>8), byte(*e.n))}
		c.Transport = &http.Transport{DialContext: (&net.Dialer{LocalAddr: src}).DialContext}
	}
	return c
}

// gql posts a GraphQL request and returns the HTTP status and the envelope.
func (e *matrixEnv) gql(authz, query string, vars map[string]any) (int, gqlResult) {
	e.t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	resp, b := e.do(http.MethodPost, "/graphql", authz, bytes.NewReader(body))
	var res gqlResult
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &res); err != nil {
			e.t.Fatalf("GraphQL response %q: %v", b, err)
		}
	}
	return resp.StatusCode, res
}

// admin runs a request as the instance admin to set a case up, and decodes
// its data into out.
func (e *matrixEnv) admin(query string, vars map[string]any, out any) {
	e.t.Helper()
	code, res := e.gql(basicAuth("admin", gqlAdminKey), query, vars)
	if code != http.StatusOK || len(res.Errors) > 0 {
		e.t.Fatalf("set-up %s: %d %+v", query, code, res.Errors)
	}
	if out != nil {
		if err := json.Unmarshal(res.Data, out); err != nil {
			e.t.Fatal(err)
		}
	}
}

// user creates a fresh member of acme and returns their username.
func (e *matrixEnv) user() string {
	u := e.name("u")
	e.admin(`mutation($u: String!) { createUser(input: {username: $u, email: "`+u+`@x.io", organization: "acme"}) { id } }`, map[string]any{"u": u}, nil)
	return u
}

// team creates a fresh team of acme with bob in it and returns its name.
func (e *matrixEnv) team() string {
	t := e.name("t")
	e.admin(`mutation($t: String!) { createTeam(organization: "acme", name: $t) { id } }`, map[string]any{"t": t}, nil)
	e.admin(`mutation($t: String!) { addTeamMember(organization: "acme", team: $t, username: "bob") { id } }`, map[string]any{"t": t}, nil)
	return t
}

// webhook connects a fresh webhook integration to acme and returns its id.
func (e *matrixEnv) webhook() string {
	var out struct {
		CreateWebhookIntegration struct{ Integration struct{ ID string } }
	}
	e.admin(`mutation($n: String!) { createWebhookIntegration(organization: "acme", name: $n, url: "https://hooks.example/x") { integration { id } } }`,
		map[string]any{"n": e.name("hook")}, &out)
	return out.CreateWebhookIntegration.Integration.ID
}

// rule creates a fresh alert rule in acme and returns its id.
func (e *matrixEnv) rule() string {
	var out struct{ CreateAlertRule struct{ ID string } }
	e.admin(`mutation($in: AlertRuleInput!) { createAlertRule(organization: "acme", input: $in) { id } }`,
		map[string]any{"in": e.ruleInput()}, &out)
	return out.CreateAlertRule.ID
}

func (e *matrixEnv) ruleInput() map[string]any {
	return map[string]any{"name": e.name("rule"), "actions": []string{"user:*"}, "integrations": []string{e.hook}}
}

// apiKey creates a fresh API key for username and returns its id.
func (e *matrixEnv) apiKey(username string) string {
	var out struct {
		CreateAPIKey struct{ APIKey struct{ ID string } }
	}
	e.admin(`mutation($u: String) { createAPIKey(username: $u, name: "k") { apiKey { id } } }`, map[string]any{"u": username}, &out)
	return out.CreateAPIKey.APIKey.ID
}

func (e *matrixEnv) slackApp() {
	e.admin(`mutation { setSlackApp(clientId: "123.456", clientSecret: "0123456789abcdef0123456789abcdef") { configured } }`, nil, nil)
}

// gqlCase is a row of the GraphQL matrix.
type gqlCase struct {
	name  string // "query organization", "mutation removeTeamMember", "query organization.auditEvents"
	query string
	// vars sets the case up afresh for role and returns the variables.
	vars func(e *matrixEnv, role string) map[string]any
	// missing, for hidden outcomes, names a missing target instead:
	// the variable to replace and its value.
	missing [2]string
	want    map[string]outcome
}

func noVars(*matrixEnv, string) map[string]any { return nil }

func fixed(vars map[string]any) func(*matrixEnv, string) map[string]any {
	return func(*matrixEnv, string) map[string]any { return vars }
}

var acmeVars = fixed(map[string]any{"org": "acme"})

var missingOrg = [2]string{"org", "nosuch"}

func orgField(field, selection string, who []string) gqlCase {
	return gqlCase{"query organization." + field, `query($org: String!) { organization(name: $org) { ` + field + selection + ` } }`,
		acmeVars, missingOrg, expect(who, forbidden, rOtherAdmin, hidden)}
}

func gqlCases() []gqlCase {
	return []gqlCase{
		{"query viewer", `{ viewer { username } }`, noVars, [2]string{}, expect(everyone, forbidden)},
		{"query organization", `query($org: String!) { organization(name: $org) { name viewerRole } }`, acmeVars, missingOrg,
			expect(acmeAll, hidden)},
		{"query organizations", `{ organizations { totalCount } }`, noVars, [2]string{}, expect(everyone, forbidden)},
		{"query auditActions", `{ auditActions { name } }`, noVars, [2]string{}, expect(everyone, forbidden)},
		{"query user", `query($u: String!) { user(username: $u) { username } }`, fixed(map[string]any{"u": "bob"}), [2]string{"u", "nosuch"},
			expect([]string{rInstanceAdmin, rOrgAdmin, rMember}, hidden)},
		{"query slackApp", `{ slackApp { configured } }`, noVars, [2]string{}, expect(instance, forbidden)},
		{"query instanceConfigChanges", `{ instanceConfigChanges { totalCount } }`, noVars, [2]string{}, expect(instance, forbidden)},
		{"query verifyAuditLog", `query($org: String!) { verifyAuditLog(organization: $org) { __typename } }`, acmeVars, missingOrg,
			expect(acmeAdmin, forbidden, rOtherAdmin, hidden)},
		{"query auditLogIntegrity", `query($org: String!) { auditLogIntegrity(organization: $org) { __typename } }`, acmeVars, missingOrg,
			expect(acmeAdmin, forbidden, rOtherAdmin, hidden)},
		{"query integration", `query($id: ID!) { integration(id: $id) { id delivery { delivered } } }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"id": e.hook} }, [2]string{"id", "999999"},
			expect(acmeAdmin, hidden)},
		orgField("users", ` { totalCount }`, acmeAll),
		orgField("teams", ` { totalCount }`, acmeAll),
		orgField("activity", ` { totalActiveUsers { count } }`, acmeAdmin),
		orgField("auditEvents", `(first: 1) { pageInfo { hasNextPage } }`, acmeAdmin),
		orgField("integrations", ` { totalCount }`, acmeAdmin),
		orgField("configChanges", ` { totalCount }`, acmeAdmin),
		orgField("alertRules", ` { totalCount }`, acmeAdmin),

		{"mutation createOrganization", `mutation($n: String!) { createOrganization(input: {name: $n}) { id } }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"n": e.name("org")} }, [2]string{}, expect(instance, forbidden)},
		{"mutation inviteUser", `mutation($org: String, $m: String!) { inviteUser(input: {organization: $org, email: $m}) { role } }`,
			func(e *matrixEnv, _ string) map[string]any {
				return map[string]any{"org": "acme", "m": e.name("inv") + "@x.io"}
			}, missingOrg,
			expect(acmeAdmin, forbidden, rOtherAdmin, hidden)},
		{"mutation acceptInvitation", `mutation($org: String!) { acceptInvitation(organization: $org) { role } }`,
			func(e *matrixEnv, role string) map[string]any {
				org := e.name("org")
				e.admin(`mutation($n: String!) { createOrganization(input: {name: $n}) { id } }`, map[string]any{"n": org}, nil)
				if u := matrixUsers[role]; u != "" && u != "admin" {
					e.admin(`mutation($org: String, $m: String!) { inviteUser(input: {organization: $org, email: $m}) { role } }`,
						map[string]any{"org": org, "m": u + "@x.io"}, nil)
				}
				return map[string]any{"org": org}
			}, [2]string{}, expect(everyone, forbidden, rInstanceAdmin, notInvited, rServiceAccount, notInvited)},
		{"mutation updateMember", `mutation($org: String!, $u: String!) { updateMember(input: {organization: $org, username: $u, role: VIEWER}) { role } }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"org": "acme", "u": e.user()} }, missingOrg,
			expect(acmeAdmin, hidden)},
		{"mutation removeMember", `mutation($org: String!, $u: String!) { removeMember(organization: $org, username: $u) }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"org": "acme", "u": e.user()} }, missingOrg,
			expect(acmeAdmin, hidden)},
		{"mutation createTeam", `mutation($org: String!, $t: String!) { createTeam(organization: $org, name: $t) { id } }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"org": "acme", "t": e.name("t")} }, missingOrg,
			expect(acmeAdmin, hidden)},
		{"mutation deleteTeam", `mutation($org: String!, $t: String!) { deleteTeam(organization: $org, name: $t) }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"org": "acme", "t": e.team()} }, [2]string{"t", "nosuch"},
			expect(acmeAdmin, hidden)},
		{"mutation addTeamMember", `mutation($org: String!, $t: String!) { addTeamMember(organization: $org, team: $t, username: "vera") { id } }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"org": "acme", "t": e.team()} }, [2]string{"t", "nosuch"},
			expect(acmeAdmin, hidden)},
		{"mutation removeTeamMember", `mutation($org: String!, $t: String!) { removeTeamMember(organization: $org, team: $t, username: "bob") { id } }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"org": "acme", "t": e.team()} }, [2]string{"t", "nosuch"},
			expect(acmeAdmin, hidden)},
		{"mutation createServiceAccount", `mutation($org: String!, $t: String!, $u: String!) { createServiceAccount(input: {organization: $org, team: $t, username: $u}) { id } }`,
			func(e *matrixEnv, _ string) map[string]any {
				return map[string]any{"org": "acme", "t": e.team(), "u": e.name("sa")}
			}, [2]string{"t", "nosuch"},
			expect(acmeAdmin, hidden)},
		{"mutation createUser", `mutation($org: String, $u: String!) { createUser(input: {username: $u, organization: $org}) { id } }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"org": "acme", "u": e.name("u")} }, missingOrg,
			expect(acmeAdmin, hidden)},
		{"mutation updateUser", `mutation($u: String!) { updateUser(input: {username: $u, name: "New Name"}) { id } }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"u": e.user()} }, [2]string{"u", "nosuch"},
			expect(acmeAdmin, hidden)},
		{"mutation deactivateUser", `mutation($u: String!) { deactivateUser(username: $u) { id } }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"u": e.user()} }, [2]string{"u", "nosuch"},
			expect(acmeAdmin, hidden)},
		{"mutation reactivateUser", `mutation($u: String!) { reactivateUser(username: $u) { id } }`,
			func(e *matrixEnv, _ string) map[string]any {
				u := e.user()
				e.admin(`mutation($u: String!) { deactivateUser(username: $u) { id } }`, map[string]any{"u": u}, nil)
				return map[string]any{"u": u}
			}, [2]string{"u", "nosuch"}, expect(acmeAdmin, hidden)},
		{"mutation deleteUser", `mutation($u: String!) { deleteUser(username: $u) }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"u": e.user()} }, [2]string{"u", "nosuch"},
			expect(acmeAdmin, hidden)},
		{"mutation setDefaultOrganization", `mutation($org: String) { setDefaultOrganization(organization: $org) { id } }`,
			acmeVars, missingOrg, expect(acmeAll, hidden, rInstanceAdmin, forbidden)},
		{"mutation createAPIKey", `mutation { createAPIKey(name: "mine") { key } }`, noVars, [2]string{}, expect(everyone, forbidden)},
		{"mutation createAPIKey for a service account", `mutation($u: String) { createAPIKey(username: $u, name: "ci") { key } }`,
			fixed(map[string]any{"u": "bot"}), [2]string{"u", "nosuch"}, expect(acmeAdmin, hidden, rServiceAccount, allowed)},
		{"mutation deleteAPIKey", `mutation($id: ID!) { deleteAPIKey(id: $id) }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"id": e.apiKey(e.user())} }, [2]string{"id", "999999"},
			expect(acmeAdmin, hidden)},
		{"mutation createAlertRule", `mutation($org: String!, $in: AlertRuleInput!) { createAlertRule(organization: $org, input: $in) { id } }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"org": "acme", "in": e.ruleInput()} }, missingOrg,
			expect(acmeAdmin, hidden)},
		{"mutation updateAlertRule", `mutation($id: ID!, $in: AlertRuleInput!) { updateAlertRule(id: $id, input: $in) { id } }`,
			func(e *matrixEnv, _ string) map[string]any {
				return map[string]any{"id": e.rule(), "in": e.ruleInput()}
			},
			[2]string{"id", "999999"}, expect(acmeAdmin, hidden)},
		{"mutation deleteAlertRule", `mutation($id: ID!) { deleteAlertRule(id: $id) }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"id": e.rule()} }, [2]string{"id", "999999"},
			expect(acmeAdmin, hidden)},
		{"mutation enableSuggestedAlertRule", `mutation($org: String!, $hook: ID!) { enableSuggestedAlertRule(organization: $org, suggestion: TEAM_DELETED, integrations: [$hook]) { id } }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"org": "acme", "hook": e.hook} }, missingOrg,
			expect(acmeAdmin, hidden)},
		{"mutation sendTestAlert", `mutation($id: ID!) { sendTestAlert(integration: $id) { status } }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"id": e.webhook()} }, [2]string{"id", "999999"},
			expect(acmeAdmin, hidden)},
		{"mutation setSlackApp", `mutation { setSlackApp(clientId: "123.456", clientSecret: "0123456789abcdef0123456789abcdef") { configured } }`,
			noVars, [2]string{}, expect(instance, forbidden)},
		{"mutation clearSlackApp", `mutation { clearSlackApp { configured } }`, noVars, [2]string{}, expect(instance, forbidden)},
		{"mutation slackInstallURL", `mutation($org: String) { slackInstallURL(organization: $org) }`,
			func(e *matrixEnv, _ string) map[string]any { e.slackApp(); return map[string]any{"org": "acme"} }, missingOrg,
			expect(acmeAdmin, hidden)},
		{"mutation createWebhookIntegration", `mutation($org: String!, $n: String!) { createWebhookIntegration(organization: $org, name: $n, url: "https://hooks.example/y") { integration { id } } }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"org": "acme", "n": e.name("hook")} }, missingOrg,
			expect(acmeAdmin, hidden)},
		{"mutation disconnectIntegration", `mutation($id: ID!) { disconnectIntegration(id: $id) { id } }`,
			func(e *matrixEnv, _ string) map[string]any { return map[string]any{"id": e.webhook()} }, [2]string{"id", "999999"},
			expect(acmeAdmin, hidden)},
		{"subscription auditEvents", `subscription($org: String!) { auditEvents(organization: $org) { sequence } }`,
			acmeVars, missingOrg, expect(acmeAdmin, forbidden, rOtherAdmin, hidden)},
	}
}

// notInvited is acceptInvitation's refusal of a caller without an
// invitation: NOT_FOUND, as for an organization that does not exist.
const notInvited outcome = 100

// TestPermissionMatrix runs every GraphQL root field, mutation and
// subscription, the organization's guarded fields, and every REST route as
// each role, through real HTTP against a real server on real PostgreSQL.
func TestPermissionMatrix(t *testing.T) {
	e := newMatrixEnv(t, deployment.SelfManaged)
	cases := gqlCases()
	t.Run("every root field has a row", func(t *testing.T) {
		have := map[string]bool{}
		for _, c := range cases {
			have[c.name] = true
		}
		s := graph.NewExecutableSchema(graph.Config{}).Schema()
		for _, op := range []struct{ kind, typ string }{{"query", "Query"}, {"mutation", "Mutation"}, {"subscription", "Subscription"}} {
			for _, f := range s.Types[op.typ].Fields {
				if strings.HasPrefix(f.Name, "__") {
					continue
				}
				if name := op.kind + " " + f.Name; !have[name] {
					t.Errorf("%s has no row in the permission matrix: add one to gqlCases", name)
				}
			}
		}
	})
	for _, c := range cases {
		for _, role := range matrixRoles {
			t.Run(c.name+"/"+role, func(t *testing.T) { e.runGQL(t, c, role, c.want[role]) })
		}
	}
	for _, c := range restCases() {
		for _, role := range matrixRoles {
			t.Run(c.name+"/"+role, func(t *testing.T) { e.runREST(t, c, role, c.want[role]) })
		}
	}
	t.Run("every REST route has a row", func(t *testing.T) {
		have := map[string]bool{}
		for _, c := range restCases() {
			have[c.route] = true
		}
		for _, r := range publicRoutes {
			have[r] = true
		}
		for _, r := range restRoutes(t) {
			if !have[r] {
				t.Errorf("route %q has no row in the permission matrix: add one to restCases or publicRoutes", r)
			}
		}
	})
	t.Run("every dashboard route is registered", func(t *testing.T) {
		have := map[string]bool{}
		for _, r := range restRoutes(t) {
			have[r] = true
		}
		for _, r := range dashboard.Routes {
			if !have[r] {
				t.Errorf("dashboard route %q is not registered in the server's mux", r)
			}
		}
	})
	for _, path := range []string{"/healthz", "/readyz", "/graphiql", "/", "/signin", "/org/dashboard"} {
		t.Run("GET "+path+"/"+rAnonymous, func(t *testing.T) {
			e := *e
			e.t = t
			if status, msg := e.rest(rAnonymous, http.MethodGet, path, ""); status != http.StatusOK {
				t.Errorf("GET %s without credentials: %d %s, want 200", path, status, msg)
			}
		})
	}
}

// runGQL runs GraphQL case c as role, expecting want.
func (e *matrixEnv) runGQL(t *testing.T, c gqlCase, role string, want outcome) {
	cp := *e
	cp.t = t
	e = &cp
	vars := c.vars(e, role)
	if strings.HasPrefix(c.name, "subscription ") {
		e.subscribe(role, c, vars, want)
		return
	}
	status, res := e.gql(e.authz(role), c.query, vars)
	got, msg := gqlOutcome(status, res)
	switch {
	case want == notInvited:
		if got != "NOT_FOUND" {
			t.Errorf("%s as %s: %s %q, want NOT_FOUND", c.name, role, got, msg)
		}
	case want == hidden:
		if got != "FORBIDDEN" && got != "NOT_FOUND" && got != "NULL" {
			t.Fatalf("%s as %s: %s %q, want a refusal", c.name, role, got, msg)
		}
		missing := maps(vars)
		missing[c.missing[0]] = c.missing[1]
		status, res := e.gql(e.authz(role), c.query, missing)
		got2, msg2 := gqlOutcome(status, res)
		if got2 != got || strings.ReplaceAll(msg2, c.missing[1], fmt.Sprint(vars[c.missing[0]])) != msg {
			t.Errorf("%s as %s: %s %q for a missing %s, %s %q for an existing one: want them alike", c.name, role, got2, msg2, c.missing[0], got, msg)
		}
	case got != want.code():
		t.Errorf("%s as %s: %s %q, want %s", c.name, role, got, msg, want)
	}
	if strings.Contains(msg, "storage:") || strings.Contains(msg, "pq:") {
		t.Errorf("%s as %s: message %q carries internal text", c.name, role, msg)
	}
}

// runREST runs REST case c as role, expecting want.
func (e *matrixEnv) runREST(t *testing.T, c restCase, role string, want outcome) {
	cp := *e
	cp.t = t
	e = &cp
	if c.setup != nil {
		c.setup(e)
	}
	status, msg := e.rest(role, c.method, c.path, c.body)
	switch want {
	case allowed:
		if status >= 400 {
			t.Errorf("%s as %s: %d %s, want success", c.name, role, status, msg)
		}
	case forbidden, hidden:
		if status != http.StatusForbidden {
			t.Fatalf("%s as %s: %d %s, want 403", c.name, role, status, msg)
		}
		if want == hidden {
			path := strings.Replace(c.path, "org=acme", "org=nosuch", 1)
			status2, msg2 := e.rest(role, c.method, path, c.body)
			if status2 != status || strings.ReplaceAll(msg2, "nosuch", "acme") != msg {
				t.Errorf("%s as %s: %d %s for a missing organization, %d %s for acme: want them alike", c.name, role, status2, msg2, status, msg)
			}
		}
	case unauthenticated:
		if status != http.StatusUnauthorized {
			t.Errorf("%s as %s: %d %s, want 401", c.name, role, status, msg)
		}
	}
}

func maps(m map[string]any) map[string]any {
	c := make(map[string]any, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func (o outcome) code() string {
	switch o {
	case allowed:
		return "OK"
	case forbidden:
		return "FORBIDDEN"
	case unauthenticated:
		return "UNAUTHENTICATED"
	}
	return o.String()
}

// gqlOutcome reduces a GraphQL answer to OK, UNAUTHENTICATED (401) or the
// first error's code, with its message.
func gqlOutcome(status int, res gqlResult) (string, string) {
	switch {
	case status == http.StatusUnauthorized:
		return "UNAUTHENTICATED", ""
	case status != http.StatusOK:
		return fmt.Sprintf("HTTP %d", status), ""
	case len(res.Errors) == 0 && rootNull(res.Data):
		// A nullable root field answered null: what it answers for a
		// target the caller may not see.
		return "NULL", ""
	case len(res.Errors) == 0:
		return "OK", ""
	}
	code, _ := res.Errors[0].Extensions["code"].(string)
	return code, res.Errors[0].Message
}

// rootNull reports whether a root field of data is null.
func rootNull(data json.RawMessage) bool {
	var root map[string]json.RawMessage
	json.Unmarshal(data, &root)
	for _, v := range root {
		if string(v) == "null" {
			return true
		}
	}
	return false
}

// subscribe runs a subscription case over a real WebSocket: an allowed one
// is acknowledged and stays open; a refused one ends with its error.
func (e *matrixEnv) subscribe(role string, c gqlCase, vars map[string]any, want outcome) {
	t := e.t
	run := func(vars map[string]any) (string, string) {
		ws, _, err := dialWS(t, e.url, dialOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := ws.init(map[string]any{"Authorization": e.authz(role)}); err != nil {
			return "UNAUTHENTICATED", ""
		}
		ws.subscribe("1", c.query, vars)
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		m, err := ws.read(ctx)
		if err != nil && ctx.Err() != nil {
			return "OK", "" // still subscribed, waiting for events
		}
		if err != nil {
			return "CLOSED", err.Error()
		}
		var errs []gqlError
		if m.Type == "next" {
			var p gqlResult
			json.Unmarshal(m.Payload, &p)
			errs = p.Errors
		} else {
			json.Unmarshal(m.Payload, &errs)
		}
		if len(errs) == 0 {
			return m.Type, string(m.Payload)
		}
		code, _ := errs[0].Extensions["code"].(string)
		return code, errs[0].Message
	}
	got, msg := run(vars)
	switch {
	case want == hidden:
		missing := maps(vars)
		missing[c.missing[0]] = c.missing[1]
		got2, msg2 := run(missing)
		if (got != "FORBIDDEN" && got != "NOT_FOUND") || got2 != got || strings.ReplaceAll(msg2, c.missing[1], fmt.Sprint(vars[c.missing[0]])) != msg {
			t.Errorf("%s as %s: %s %q for a missing %s, %s %q for an existing one: want the same refusal", c.name, role, got2, msg2, c.missing[0], got, msg)
		}
	case got != want.code():
		t.Errorf("%s as %s: %s %q, want %s", c.name, role, got, msg, want)
	}
}

// restCase is a row of the REST matrix.
type restCase struct {
	name, route        string
	method, path, body string
	setup              func(e *matrixEnv)
	want               map[string]outcome
}

func restCases() []restCase {
	line := fmt.Sprintf(`{"id":"m1","action":"run:update","timestamp":%q}`+"\n", time.Now().UTC().Format(time.RFC3339))
	return []restCase{
		{"POST /api/v1/audit_events", "POST /api/v1/audit_events", http.MethodPost, "/api/v1/audit_events?org=acme", line, nil,
			expect([]string{rInstanceAdmin, rOrgAdmin, rServiceAccount}, forbidden, rOtherAdmin, hidden)},
		{"GET /admin/audit_logs", "GET /admin/audit_logs", http.MethodGet, "/admin/audit_logs?org=acme", "", nil,
			expect(acmeAdmin, forbidden, rOtherAdmin, hidden)},
		{"GET /admin/users.csv", "GET /admin/users.csv", http.MethodGet, "/admin/users.csv?org=acme", "", nil,
			expect(acmeAdmin, forbidden, rOtherAdmin, hidden)},
		{"GET /slack/install", "GET /slack/install", http.MethodGet, "/slack/install?org=acme", "", (*matrixEnv).slackApp,
			expect(acmeAdmin, forbidden, rOtherAdmin, hidden)},
		{"GET /metrics", "GET /metrics", http.MethodGet, "/metrics", "", nil, expect(instance, forbidden)},
		{"GET /api/session", "GET /api/session", http.MethodGet, "/api/session", "", nil, expect(matrixRoles[:6], forbidden)},
	}
}

// publicRoutes are the routes that need no credentials: health checks, the
// playground page, the index page, the Slack callback (its signed state
// authenticates it), /graphql (its own matrix above: the WebSocket
// authenticates in connection_init), sign-in (its credentials are the
// body: TestSignInRefused), sign-out (it ends the cookie's session, if any:
// TestSignOut), the dashboard's pages and assets (one HTML shell and its
// script, which ask the API for everything) and the catch-all 404.
var publicRoutes = append([]string{"GET /healthz", "GET /readyz", "/graphql", "/graphiql", "/graphiql/", "GET /{$}", "/", "GET " + connect.CallbackPath,
	"POST /api/session", "DELETE /api/session"}, dashboard.Routes...)

// restRoutes lists the patterns the server registers, read from its source.
func restRoutes(t *testing.T) []string {
	var routes []string
	re := regexp.MustCompile(`mux\.Handle(?:Func)?\("([^"]+)"(\+connect\.CallbackPath)?`)
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			r := m[1]
			if m[2] != "" {
				r += connect.CallbackPath
			}
			routes = append(routes, r)
		}
	}
	if len(routes) < 8 {
		t.Fatalf("found %d routes in the server's source: %v; has the registration changed?", len(routes), routes)
	}
	return routes
}

// rest sends a REST request as role and returns the status and the error
// text, if any.
func (e *matrixEnv) rest(role, method, path, body string) (int, string) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.url+path, r)
	if err != nil {
		e.t.Fatal(err)
	}
	if a := e.authz(role); a != "" {
		req.Header.Set("Authorization", a)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	resp, err := e.client(req.Header.Get("Authorization")).Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var msg struct{ Error string }
	json.Unmarshal(b, &msg)
	return resp.StatusCode, msg.Error
}

// TestErrorMessagesArePublic checks that a client is told an error's kind
// and its public message, never the internal wrap chain (storage's
// "storage: get team …", the driver's "pq: …").
func TestErrorMessagesArePublic(t *testing.T) {
	e := newMatrixEnv(t, deployment.SelfManaged)
	team := e.team()
	for _, tc := range []struct {
		name, role, query string
		vars              map[string]any
		code, msg         string
	}{
		{"duplicate team", rOrgAdmin, `mutation($t: String!) { createTeam(organization: "acme", name: $t) { id } }`,
			map[string]any{"t": team}, "CONFLICT", "already exists: organization acme has a team called " + team + " already"},
		{"duplicate organization", rInstanceAdmin, `mutation { createOrganization(input: {name: "acme"}) { id } }`,
			nil, "CONFLICT", "already exists: an organization called acme exists already"},
		{"missing team for its admin", rOrgAdmin, `mutation { removeTeamMember(organization: "acme", team: "nosuch", username: "bob") { id } }`,
			nil, "NOT_FOUND", "not found: organization acme has no team called nosuch"},
		{"missing team for a member", rMember, `mutation { removeTeamMember(organization: "acme", team: "nosuch", username: "bob") { id } }`,
			nil, "FORBIDDEN", `forbidden: bob is not an admin of organization "acme"`},
		{"missing organization for an outsider", rOtherAdmin, `mutation { removeTeamMember(organization: "nosuch", team: "t", username: "bob") { id } }`,
			nil, "FORBIDDEN", `forbidden: oscar is not an admin of organization "nosuch"`},
		{"missing organization for the instance admin", rInstanceAdmin, `mutation { removeTeamMember(organization: "nosuch", team: "t", username: "bob") { id } }`,
			nil, "NOT_FOUND", `not found: no organization called "nosuch"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			status, res := e.gql(e.authz(tc.role), tc.query, tc.vars)
			code, msg := gqlOutcome(status, res)
			if code != tc.code || msg != tc.msg {
				t.Errorf("%s as %s: %s %q, want %s %q", tc.name, tc.role, code, msg, tc.code, tc.msg)
			}
		})
	}
}

// TestUserShowsOnlyVisibleOrganizations checks that a user's memberships
// and default organization show another organization's admin only the
// organizations they are in themselves.
func TestUserShowsOnlyVisibleOrganizations(t *testing.T) {
	e := newMatrixEnv(t, deployment.SelfManaged)
	// bob is in acme, and also a member of other with other as his default.
	e.admin(`mutation { createUser(input: {username: "both", email: "both@x.io", organization: "acme"}) { id } }`, nil, nil)
	e.admin(`mutation { inviteUser(input: {organization: "other", email: "both@x.io", role: MEMBER}) { role } }`, nil, nil)
	const q = `{ user(username: "both") { memberships { organization { name } } defaultOrganization { name } } }`
	for _, tc := range []struct {
		role string
		want string
	}{
		{rInstanceAdmin, `{"user":{"memberships":[{"organization":{"name":"acme"}},{"organization":{"name":"other"}}],"defaultOrganization":null}}`},
		{rOrgAdmin, `{"user":{"memberships":[{"organization":{"name":"acme"}}],"defaultOrganization":null}}`},
		{rOtherAdmin, `{"user":{"memberships":[{"organization":{"name":"other"}}],"defaultOrganization":null}}`},
	} {
		t.Run(tc.role, func(t *testing.T) {
			e := *e
			e.t = t
			status, res := e.gql(e.authz(tc.role), q, nil)
			if status != http.StatusOK || len(res.Errors) > 0 || string(res.Data) != tc.want {
				t.Errorf("user(both) as %s: %d %s %+v, want %s", tc.role, status, res.Data, res.Errors, tc.want)
			}
		})
	}
}

// TestPermissionMatrixMultiTenant runs the rows whose outcomes depend on the
// deployment mode in multi-tenant mode: there only an organization's own
// admins read its audit log (on the Enterprise plan), not instance admins.
func TestPermissionMatrixMultiTenant(t *testing.T) {
	e := newMatrixEnv(t, deployment.MultiTenant)
	auditReaders := expect([]string{rOrgAdmin}, forbidden, rOtherAdmin, hidden)
	for _, c := range gqlCases() {
		if c.name != "query organization.auditEvents" && c.name != "subscription auditEvents" {
			continue
		}
		for _, role := range matrixRoles {
			t.Run(c.name+"/"+role, func(t *testing.T) { e.runGQL(t, c, role, auditReaders[role]) })
		}
	}
	for _, c := range restCases() {
		if c.route != "GET /admin/audit_logs" {
			continue
		}
		for _, role := range matrixRoles {
			t.Run(c.name+"/"+role, func(t *testing.T) { e.runREST(t, c, role, auditReaders[role]) })
		}
	}
}
