package server_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// gqlAdminKey is the instance admin's key, set at bootstrap as
// AUDITGRAPH_ADMIN_API_KEY would set it.
const gqlAdminKey = "fedcba9876543210fedcba9876543210fedcba98"

// gqlEnv is a server on real HTTP with the instance admin "admin", the
// organization "acme" with its admin alice and its members bob and demo, and
// gone, a deactivated member of acme. keys holds each user's API key.
type gqlEnv struct {
	t     *testing.T
	ctx   context.Context
	url   string
	store *storage.Store
	ids   *identity.Service
	admin *auth.Principal
	keys  map[string]string
}

func newGQLEnv(t *testing.T) *gqlEnv {
	t.Helper()
	ctx := context.Background()
	st := storagetest.New(t)
	log := slog.New(slog.DiscardHandler)
	ids := identity.New(st, deployment.SelfManaged, log)
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: gqlAdminKey, OrgName: "default"}); err != nil {
		t.Fatal(err)
	}
	admin, err := st.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	e := &gqlEnv{t: t, ctx: ctx, store: st, ids: ids, admin: &auth.Principal{User: admin}, keys: map[string]string{"admin": gqlAdminKey}}
	if _, err := ids.CreateOrganization(ctx, e.admin, "acme", "enterprise"); err != nil {
		t.Fatal(err)
	}
	for _, u := range []struct{ name, role string }{
		{"alice", access.RoleAdmin}, {"bob", access.RoleMember}, {"demo", access.RoleMember}, {"gone", access.RoleMember},
	} {
		if _, err := ids.CreateUser(ctx, e.admin, identity.NewUser{Username: u.name, Email: u.name + "@x.io", Org: "acme", Role: u.role}); err != nil {
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
	srv := httptest.NewServer(server.New(server.Config{Services: app.New(st), Identity: ids, Mode: deployment.SelfManaged, Log: log}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// with returns e for use by the test t.
func (e *gqlEnv) with(t *testing.T) *gqlEnv {
	c := *e
	c.t = t
	return &c
}

func basicAuth(username, key string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(username+":"+key))
}

// do sends a request with the Authorization header authz (none when empty).
func (e *gqlEnv) do(method, path, authz string, body io.Reader) (*http.Response, []byte) {
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
	resp, err := http.DefaultClient.Do(req)
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

type gqlError struct {
	Message    string         `json:"message"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResult struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
}

// query posts a GraphQL request and returns the HTTP status and the decoded
// envelope.
func (e *gqlEnv) query(authz, query string, vars map[string]any) (int, gqlResult) {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		e.t.Fatal(err)
	}
	resp, b := e.do(http.MethodPost, "/graphql", authz, strings.NewReader(string(body)))
	var res gqlResult
	if resp.StatusCode == http.StatusOK {
		if err := json.Unmarshal(b, &res); err != nil {
			e.t.Fatalf("GraphQL response %q: %v", b, err)
		}
	}
	return resp.StatusCode, res
}

// mustQuery runs a query that must succeed and decodes its data into out.
func (e *gqlEnv) mustQuery(authz, query string, vars map[string]any, out any) {
	e.t.Helper()
	code, res := e.query(authz, query, vars)
	if code != http.StatusOK || len(res.Errors) > 0 {
		e.t.Fatalf("POST /graphql %s = %d, errors %+v; want 200 without errors", query, code, res.Errors)
	}
	if err := json.Unmarshal(res.Data, out); err != nil {
		e.t.Fatalf("data of %s = %s: %v", query, res.Data, err)
	}
}

// viewer returns the username /graphql answers `{ viewer { username } }` with.
func (e *gqlEnv) viewer(authz string) (int, string) {
	e.t.Helper()
	code, res := e.query(authz, `{ viewer { username } }`, nil)
	if code != http.StatusOK {
		return code, ""
	}
	var data struct{ Viewer struct{ Username string } }
	if len(res.Errors) > 0 || json.Unmarshal(res.Data, &data) != nil {
		e.t.Fatalf("viewer query = %s, errors %+v", res.Data, res.Errors)
	}
	return code, data.Viewer.Username
}

// TestGraphQL runs the GraphQL checks that can share one server, one after
// the other: none of them changes what another looks at.
func TestGraphQL(t *testing.T) {
	t.Parallel()
	e := newGQLEnv(t)
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, *gqlEnv)
	}{
		{"RejectsBadCredentials", testGraphQLRejectsBadCredentials},
		{"AcceptsCredentials", testGraphQLAcceptsCredentials},
		{"ForbiddenForMember", testGraphQLForbiddenForMember},
		{"GetRunsQueriesOnly", testGraphQLGetRunsQueriesOnly},
		{"PageSizeCap", testGraphQLPageSizeCap},
		{"CreateUserRoundTrip", testGraphQLCreateUserRoundTrip},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, e.with(t)) })
	}
}

func testGraphQLRejectsBadCredentials(t *testing.T, e *gqlEnv) {
	for _, tc := range []struct {
		name  string
		authz string
	}{
		{"no Authorization", ""},
		{"wrong bearer key", "Bearer 0000000000000000000000000000000000000000"},
		{"wrong basic key", basicAuth("admin", "0000000000000000000000000000000000000000")},
		{"right key, another username", basicAuth("bob", gqlAdminKey)},
		{"another user's key under admin", basicAuth("admin", e.keys["bob"])},
		{"empty key", basicAuth("admin", "")},
		{"no colon in basic credentials", "Basic " + base64.StdEncoding.EncodeToString([]byte("admin"+gqlAdminKey))},
		{"basic credentials not base64", "Basic " + gqlAdminKey + "!"},
		{"unknown scheme", "Token " + gqlAdminKey},
		{"scheme without credentials", "Bearer"},
		{"deactivated user's key, basic", basicAuth("gone", e.keys["gone"])},
		{"deactivated user's key, bearer", "Bearer " + e.keys["gone"]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			resp, body := e.do(http.MethodPost, "/graphql", tc.authz, strings.NewReader(`{"query":"{ viewer { username } }"}`))
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("POST /graphql with %q = %d %s, want 401", tc.authz, resp.StatusCode, body)
			}
			if got, want := resp.Header.Get("WWW-Authenticate"), `Basic realm="auditgraph"`; got != want {
				t.Errorf("WWW-Authenticate = %q, want %q", got, want)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var errBody struct {
				Error *string `json:"error"`
			}
			if err := json.Unmarshal(body, &errBody); err != nil || errBody.Error == nil || *errBody.Error == "" {
				t.Errorf("401 body = %s, want a JSON object {\"error\": \"...\"}", body)
			}
			for _, key := range e.keys {
				if strings.Contains(string(body), key) {
					t.Errorf("401 body %s contains an API key", body)
				}
			}
		})
	}
}

func testGraphQLAcceptsCredentials(t *testing.T, e *gqlEnv) {
	for _, tc := range []struct {
		name  string
		authz string
		want  string
	}{
		{"basic admin:KEY", basicAuth("admin", gqlAdminKey), "admin"},
		{"bearer KEY", "Bearer " + gqlAdminKey, "admin"},
		{"lower-case scheme", "bearer " + gqlAdminKey, "admin"},
		// The reference's recipe: "Basic " + base64("demo:" + API key).
		{"basic demo:KEY built as documented", "Basic " + base64.StdEncoding.EncodeToString([]byte("demo:"+e.keys["demo"])), "demo"},
		{"bearer key of a member", "Bearer " + e.keys["bob"], "bob"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, got := e.with(t).viewer(tc.authz)
			if code != http.StatusOK || got != tc.want {
				t.Errorf("viewer with %s = %d, %q; want 200, %q", tc.name, code, got, tc.want)
			}
		})
	}
}

// The reference's own example header, for the user demo with the key
// p@55w0rd, works as written.
func TestGraphQLDocumentedBasicExample(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	st := storagetest.New(t)
	log := slog.New(slog.DiscardHandler)
	ids := identity.New(st, deployment.SelfManaged, log)
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "demo", AdminAPIKey: "p@55w0rd", OrgName: "default"}); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(server.New(server.Config{Services: app.New(st), Identity: ids, Mode: deployment.SelfManaged, Log: log}))
	t.Cleanup(srv.Close)
	e := &gqlEnv{t: t, ctx: ctx, url: srv.URL, store: st}

	const documented = "Basic ZGVtbzpwQDU1dzByZA=="
	if got := basicAuth("demo", "p@55w0rd"); got != documented {
		t.Fatalf("basicAuth(demo, p@55w0rd) = %q, want the documented %q", got, documented)
	}
	if code, got := e.viewer(documented); code != http.StatusOK || got != "demo" {
		t.Errorf("viewer with Authorization: %s = %d, %q; want 200, %q", documented, code, got, "demo")
	}
}

func testGraphQLForbiddenForMember(t *testing.T, e *gqlEnv) {
	code, res := e.query(basicAuth("bob", e.keys["bob"]), `mutation { createTeam(organization: "acme", name: "ml") { name } }`, nil)
	if code != http.StatusOK {
		t.Fatalf("createTeam by member = HTTP %d, want 200 with a GraphQL error", code)
	}
	if len(res.Errors) != 1 || res.Errors[0].Extensions["code"] != "FORBIDDEN" {
		t.Errorf("createTeam by member errors = %+v, want one with extensions.code FORBIDDEN", res.Errors)
	}
	acme, err := e.store.OrganizationByName(e.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.store.TeamByName(e.ctx, acme.ID, "ml"); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("TeamByName(acme, ml) after a refused createTeam = %v, want %v", err, fault.ErrNotFound)
	}
}

// Mutations are POST only: a GET cannot change anything, so a link or an
// image tag cannot make a signed-in browser do it.
func testGraphQLGetRunsQueriesOnly(t *testing.T, e *gqlEnv) {
	authz := "Bearer " + gqlAdminKey
	resp, body := e.do(http.MethodGet, "/graphql?query="+url.QueryEscape(`{ viewer { username } }`), authz, nil)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"username":"admin"`) {
		t.Errorf("GET /graphql query = %d %s, want 200 with admin", resp.StatusCode, body)
	}
	resp, body = e.do(http.MethodGet, "/graphql?query="+url.QueryEscape(`mutation { createTeam(organization: "acme", name: "viaget") { name } }`), authz, nil)
	if resp.StatusCode == http.StatusOK && !strings.Contains(string(body), `"errors"`) {
		t.Errorf("GET /graphql mutation = %d %s, want it refused", resp.StatusCode, body)
	}
	acme, _ := e.store.OrganizationByName(e.ctx, "acme")
	if _, err := e.store.TeamByName(e.ctx, acme.ID, "viaget"); !errors.Is(err, fault.ErrNotFound) {
		t.Errorf("TeamByName(acme, viaget) after GET mutation = %v, want %v", err, fault.ErrNotFound)
	}
}

func TestServerHealthAndReadiness(t *testing.T) {
	t.Parallel()
	e := newGQLEnv(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		t.Run(path, func(t *testing.T) {
			resp, body := e.do(http.MethodGet, path, "", nil)
			if resp.StatusCode != http.StatusOK {
				t.Errorf("GET %s = %d %s, want 200", path, resp.StatusCode, body)
			}
		})
	}
	// A database missing a migration is not ready.
	if _, err := e.store.DB().Exec(`DELETE FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations)`); err != nil {
		t.Fatal(err)
	}
	if resp, body := e.do(http.MethodGet, "/readyz", "", nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz with a migration missing = %d %s, want 503", resp.StatusCode, body)
	}
	if resp, body := e.do(http.MethodGet, "/healthz", "", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("GET /healthz with a migration missing = %d %s, want 200", resp.StatusCode, body)
	}
}

func testGraphQLPageSizeCap(t *testing.T, e *gqlEnv) {
	authz := basicAuth("admin", gqlAdminKey)
	for _, q := range []string{
		`{ organizations(first: 1000) { totalCount } }`,
		`{ organizations(first: -1) { totalCount } }`,
		`{ organization(name: "acme") { teams(first: 101) { totalCount } } }`,
	} {
		t.Run(q, func(t *testing.T) {
			code, res := e.query(authz, q, nil)
			if code != http.StatusOK || len(res.Errors) == 0 || !strings.Contains(res.Errors[0].Message, "maximum") {
				t.Errorf("POST /graphql %s = %d, errors %+v; want an error mentioning the maximum", q, code, res.Errors)
			}
		})
	}
	var data struct {
		Organizations struct{ TotalCount int }
	}
	e.mustQuery(authz, `{ organizations(first: 100) { totalCount } }`, nil, &data)
	if data.Organizations.TotalCount != 2 {
		t.Errorf("organizations(first: 100).totalCount = %d, want 2 (default, acme)", data.Organizations.TotalCount)
	}
}

func testGraphQLCreateUserRoundTrip(t *testing.T, e *gqlEnv) {
	authz := basicAuth("alice", e.keys["alice"])
	var created struct {
		CreateUser struct {
			ID, Username, Email string
		}
	}
	e.mustQuery(authz, `mutation($in: CreateUserInput!) { createUser(input: $in) { id username email } }`,
		map[string]any{"in": map[string]any{"username": "carol", "name": "Carol C", "email": "carol@x.io", "organization": "acme", "role": "VIEWER"}},
		&created)
	if c := created.CreateUser; c.ID == "" || c.Username != "carol" || c.Email != "carol@x.io" {
		t.Errorf("createUser = %+v, want carol with an id", c)
	}

	var got struct {
		User *struct {
			ID, Username, Name, Email string
			Deactivated               bool
			Memberships               []struct {
				Organization  struct{ Name string }
				Role          string
				InvitePending bool
			}
		}
	}
	e.mustQuery(authz, `query($u: String!) { user(username: $u) { id username name email deactivated
		memberships { organization { name } role invitePending } } }`, map[string]any{"u": "carol"}, &got)
	u := got.User
	if u == nil {
		t.Fatal("user(carol) = null after createUser")
	}
	if u.ID != created.CreateUser.ID || u.Username != "carol" || u.Name != "Carol C" || u.Email != "carol@x.io" || u.Deactivated {
		t.Errorf("user(carol) = %+v, want what createUser made", *u)
	}
	if len(u.Memberships) != 1 || u.Memberships[0].Organization.Name != "acme" || u.Memberships[0].Role != "VIEWER" || u.Memberships[0].InvitePending {
		t.Errorf("user(carol).memberships = %+v, want one accepted VIEWER membership of acme", u.Memberships)
	}

	// The change's audit event names the same user and the caller.
	acme, err := e.store.OrganizationByName(e.ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	es, err := e.store.OrgEvents(e.ctx, acme.ID, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	alice, _ := e.store.UserByUsername(e.ctx, "alice")
	var found int
	for _, ev := range es {
		if ev.Action == audit.UserCreate && ev.UserAsset == u.ID {
			found++
			if want := alice.ID; ev.ActorUserID != strconv.FormatInt(want, 10) || ev.ActorIP == "" {
				t.Errorf("user:create event = %+v, want actor_user_id %d and the client's IP", ev.Event, want)
			}
		}
	}
	if found != 1 {
		t.Errorf("user:create events for user_asset %s = %d, want 1", u.ID, found)
	}
}
