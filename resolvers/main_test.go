package resolvers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

func TestMain(m *testing.M) { storagetest.Main(m) }

// now is every test server's clock, Wednesday 14 October 2026, 15:30 UTC,
// so that period boundaries and statuses do not depend on the day the tests
// run. It lies before the real time at which the setup writes its own audit
// events, which therefore fall outside every window the tests read.
var now = time.Date(2026, 10, 14, 15, 30, 0, 0, time.UTC)

// cutoff is the multi-tenant activity cut-off of the test servers.
var cutoff = time.Date(2025, 5, 8, 0, 0, 0, 0, time.UTC)

// adminKey is the instance admin's API key.
const adminKey = "5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed"

// env is a server on real HTTP in one deployment mode, with the instance
// admin "admin" and the Enterprise organization "acme" (no members yet).
type env struct {
	t     *testing.T
	ctx   context.Context
	mode  deployment.Mode
	store *storage.Store
	ids   *identity.Service
	admin *auth.Principal
	url   string
	keys  map[string]string // username → API key
}

// newEnv returns an env on a fresh database.
func newEnv(t *testing.T, mode deployment.Mode) *env {
	t.Helper()
	st := storagetest.New(t)
	return newEnvOn(t, mode, st, st)
}

// newEnvOn returns an env whose setup writes through st and whose server
// reads through served; both are stores of the same database.
func newEnvOn(t *testing.T, mode deployment.Mode, st, served *storage.Store) *env {
	t.Helper()
	return newEnvCached(t, mode, st, served, nil)
}

// newEnvCached is newEnvOn with a server whose authentication and
// identity service use cache (nil: none).
func newEnvCached(t *testing.T, mode deployment.Mode, st, served *storage.Store, cache *auth.Cache) *env {
	t.Helper()
	ctx := context.Background()
	log := slog.New(slog.DiscardHandler)
	ids := identity.New(st, mode, log)
	ids.UseCache(cache) // the setup's changes are this server's
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: adminKey, OrgName: "default"}); err != nil {
		t.Fatal(err)
	}
	admin, err := st.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, mode: mode, store: st, ids: ids, admin: &auth.Principal{User: admin}, keys: map[string]string{"admin": adminKey}}
	e.org("acme", "enterprise")
	servedIDs := identity.New(served, mode, log)
	servedIDs.UseCache(cache)
	srv := httptest.NewServer(server.New(server.Config{
		Services: app.New(served), Identity: servedIDs, Mode: mode, Log: log,
		ActivityCutoff: cutoff, Now: func() time.Time { return now }, AuthCache: cache,
	}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

// with returns e for use by the subtest t.
func (e *env) with(t *testing.T) *env {
	c := *e
	c.t = t
	return &c
}

func (e *env) org(name, plan string) {
	e.t.Helper()
	if _, err := e.ids.CreateOrganization(e.ctx, e.admin, name, plan); err != nil {
		e.t.Fatal(err)
	}
}

// member describes a user to create in an organization.
type member struct {
	username, name, email, role string
}

// add creates users as members of org, each with the email
// username@x.io unless given, and the role member unless given.
func (e *env) add(org string, ms ...member) {
	e.t.Helper()
	for _, m := range ms {
		if m.email == "" {
			m.email = m.username + "@x.io"
		}
		if m.role == "" {
			m.role = "member"
		}
		if _, err := e.ids.CreateUser(e.ctx, e.admin, identity.NewUser{Username: m.username, Name: m.name, Email: m.email, Org: org, Role: m.role}); err != nil {
			e.t.Fatalf("CreateUser(%s in %s): %v", m.username, org, err)
		}
	}
}

// addUsers creates members of org with one role.
func (e *env) addUsers(org, role string, usernames ...string) {
	e.t.Helper()
	for _, u := range usernames {
		e.add(org, member{username: u, role: role})
	}
}

// invite invites a new user to org; the invitation stays pending.
func (e *env) invite(org, username string) {
	e.t.Helper()
	if _, _, err := e.ids.InviteUser(e.ctx, e.admin, identity.Invitation{Org: org, Email: username + "@x.io", Username: username}); err != nil {
		e.t.Fatalf("InviteUser(%s to %s): %v", username, org, err)
	}
}

func (e *env) team(org, name string, usernames ...string) {
	e.t.Helper()
	if _, err := e.ids.CreateTeam(e.ctx, e.admin, org, name); err != nil {
		e.t.Fatal(err)
	}
	for _, u := range usernames {
		if _, err := e.ids.AddTeamMember(e.ctx, e.admin, org, name, u); err != nil {
			e.t.Fatalf("AddTeamMember(%s, %s): %v", name, u, err)
		}
	}
}

func (e *env) deactivate(username string) {
	e.t.Helper()
	if _, err := e.ids.DeactivateUser(e.ctx, e.admin, username); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) userID(username string) int64 {
	e.t.Helper()
	u, err := e.store.UserByUsername(e.ctx, username)
	if err != nil {
		e.t.Fatalf("UserByUsername(%s): %v", username, err)
	}
	return u.ID
}

// active records activity of username at each of the times, in every
// organization the user belongs to.
func (e *env) active(username string, at ...time.Time) {
	e.t.Helper()
	id := e.userID(username)
	acts := make([]storage.Activity, len(at))
	for i, t := range at {
		acts[i] = storage.Activity{UserID: id, At: t}
	}
	if err := e.store.RecordActivity(e.ctx, acts); err != nil {
		e.t.Fatal(err)
	}
}

// key returns username's API key, creating one the first time.
func (e *env) key(username string) string {
	e.t.Helper()
	if k, ok := e.keys[username]; ok {
		return k
	}
	k, _, err := e.ids.CreateAPIKey(e.ctx, e.admin, username, "test")
	if err != nil {
		e.t.Fatalf("CreateAPIKey(%s): %v", username, err)
	}
	e.keys[username] = k
	return k
}

// do sends a request as username (with HTTP Basic auth) and returns the
// status and body.
func (e *env) do(method, path, username string, body []byte) (int, []byte) {
	e.t.Helper()
	req, err := http.NewRequestWithContext(e.ctx, method, e.url+path, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.SetBasicAuth(username, e.key(username))
	if method == http.MethodPost && strings.HasPrefix(path, "/graphql") {
		req.Header.Set("Content-Type", "application/json")
	}
	if method == http.MethodPost && strings.HasPrefix(path, "/api/v1/audit_events") {
		req.Header.Set("Content-Type", "application/x-ndjson")
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
	return resp.StatusCode, b
}

// ingest reports NDJSON events to org's log as username.
func (e *env) ingest(username, org, ndjson string) {
	e.t.Helper()
	code, b := e.do(http.MethodPost, "/api/v1/audit_events?org="+org, username, []byte(ndjson))
	if code != http.StatusOK {
		e.t.Fatalf("POST /api/v1/audit_events = %d %s", code, b)
	}
	var res struct{ Received, Stored int }
	if err := json.Unmarshal(b, &res); err != nil || res.Stored != res.Received {
		e.t.Fatalf("POST /api/v1/audit_events = %s, want every line stored", b)
	}
}

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

func (g gqlError) code() string {
	c, _ := g.Extensions["code"].(string)
	return c
}

// query runs a GraphQL request as username and returns its data and errors.
func (e *env) query(username, query string, vars map[string]any) (json.RawMessage, []gqlError) {
	e.t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	if err != nil {
		e.t.Fatal(err)
	}
	code, b := e.do(http.MethodPost, "/graphql", username, body)
	var res struct {
		Data   json.RawMessage `json:"data"`
		Errors []gqlError      `json:"errors"`
	}
	if err := json.Unmarshal(b, &res); err != nil {
		e.t.Fatalf("POST /graphql = %d %s: %v", code, b, err)
	}
	if code != http.StatusOK && len(res.Errors) == 0 {
		e.t.Fatalf("POST /graphql = %d %s, want 200 or GraphQL errors", code, b)
	}
	return res.Data, res.Errors
}

// mustQuery runs a query that must succeed and decodes its data into out.
func (e *env) mustQuery(username, query string, vars map[string]any, out any) {
	e.t.Helper()
	data, errs := e.query(username, query, vars)
	if len(errs) > 0 {
		e.t.Fatalf("query %s as %s: errors %+v", query, username, errs)
	}
	if err := json.Unmarshal(data, out); err != nil {
		e.t.Fatalf("query %s: data %s: %v", query, data, err)
	}
}

// queryError runs a query that must fail and returns its only error.
func (e *env) queryError(username, query string, vars map[string]any) gqlError {
	e.t.Helper()
	_, errs := e.query(username, query, vars)
	if len(errs) != 1 {
		e.t.Fatalf("query %s as %s: errors %+v, want exactly one", query, username, errs)
	}
	return errs[0]
}

// day returns UTC midnight of a date.
func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// at returns a UTC instant.
func at(y int, m time.Month, d, h, min, s int) time.Time {
	return time.Date(y, m, d, h, min, s, 0, time.UTC)
}
