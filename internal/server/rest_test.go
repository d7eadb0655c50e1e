package server_test

import (
	"bytes"
	"cmp"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/access"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

const restAdminKey = "0123456789abcdef0123456789abcdef01234567"

// restEnv is a running server with an admin, an org admin "alice" of the
// organization "acme", and a member "bob".
type restEnv struct {
	t     testing.TB
	url   string
	store *storage.Store
	ids   *identity.Service
	keys  map[string]string // username → key
	admin *auth.Principal
}

func newRestEnv(t testing.TB, mode deployment.Mode) *restEnv {
	t.Helper()
	ctx := context.Background()
	st := storagetest.New(t)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ids := identity.New(st, mode, log)
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: restAdminKey, OrgName: "default"}); err != nil {
		t.Fatal(err)
	}
	admin, err := st.UserByUsername(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	e := &restEnv{t: t, store: st, ids: ids, keys: map[string]string{"admin": restAdminKey}, admin: &auth.Principal{User: admin}}
	if _, err := ids.CreateOrganization(ctx, e.admin, "acme", "enterprise"); err != nil {
		t.Fatal(err)
	}
	e.addUser("alice", "acme", "admin")
	e.addUser("bob", "acme", "member")
	srv := httptest.NewServer(server.New(server.Config{Services: app.New(st), Identity: ids, Mode: mode, Log: log}))
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func (e *restEnv) addUser(name, org, role string) {
	e.t.Helper()
	ctx := context.Background()
	if _, err := e.ids.CreateUser(ctx, e.admin, identity.NewUser{Username: name, Email: name + "@x.io", Org: org, Role: role}); err != nil {
		e.t.Fatal(err)
	}
	key, _, err := e.ids.CreateAPIKey(ctx, e.admin, name, "test")
	if err != nil {
		e.t.Fatal(err)
	}
	e.keys[name] = key
}

func (e *restEnv) do(method, path, user string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	e.t.Helper()
	req, err := http.NewRequest(method, e.url+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, e.keys[user])
	}
	if method == http.MethodPost && strings.HasPrefix(path, "/api/v1/audit_events") {
		req.Header.Set("Content-Type", "application/x-ndjson")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	tr := &http.Transport{DisableCompression: true}
	resp, err := (&http.Client{Transport: tr}).Do(req)
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

func (e *restEnv) ingest(user, org, ndjson string) (int, map[string]any) {
	e.t.Helper()
	path := "/api/v1/audit_events"
	if org != "" {
		path += "?org=" + org
	}
	resp, b := e.do("POST", path, user, strings.NewReader(ndjson))
	var m map[string]any
	json.Unmarshal(b, &m)
	return resp.StatusCode, m
}

func lines(b []byte) []map[string]any {
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			panic(fmt.Sprintf("bad NDJSON line %q: %v", l, err))
		}
		out = append(out, m)
	}
	return out
}

// reported drops the events the test setup itself caused (creating the
// organization, users and keys), keeping those the test reported.
func reported(events []map[string]any) []map[string]any {
	var out []map[string]any
	for _, e := range events {
		if e["actor_user_id"] != "1" {
			out = append(out, e)
		}
	}
	return out
}

func day(offset int) string { return time.Now().UTC().AddDate(0, 0, offset).Format("2006-01-02") }

func stamp(offset int) string {
	t := time.Now().UTC().AddDate(0, 0, offset)
	return time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, time.UTC).Format(time.RFC3339)
}

func TestIngestThenFetch(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	body := fmt.Sprintf(`{"id":"1","action":"run:update","timestamp":%q,"actor_email":"bob@x.io","project_name":"p"}
{"id":"2","action":"artifact:read","timestamp":%q,"response_code":200}
{"id":"3","action":"run:stop","timestamp":%q}
`, stamp(0), stamp(-1), stamp(-3))
	code, res := e.ingest("alice", "", body)
	if code != 200 || res["stored"] != 3.0 || res["duplicates"] != 0.0 {
		t.Fatalf("ingest = %d %v, want 200 with 3 stored", code, res)
	}
	code, res = e.ingest("alice", "", body)
	if code != 200 || res["stored"] != 0.0 || res["duplicates"] != 3.0 {
		t.Fatalf("retried ingest = %d %v, want 200 with 3 duplicates", code, res)
	}

	for _, tc := range []struct {
		query   string
		actions []string
	}{
		{"", []string{"run:update"}},
		{"?numDays=1", []string{"artifact:read", "run:update"}},
		{"?numdays=3", []string{"run:stop", "artifact:read", "run:update"}},
		{"?startDate=" + day(-1), []string{"artifact:read"}},
		{"?STARTDATE=" + day(-1) + "&NumDays=5", []string{"run:stop", "artifact:read"}},
		{"?startDate=" + day(-2), nil},
	} {
		t.Run(cmp.Or(strings.TrimPrefix(tc.query, "?"), "no parameters"), func(t *testing.T) {
			resp, b := e.do("GET", "/admin/audit_logs"+tc.query, "alice", nil)
			if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-ndjson" {
				t.Errorf("GET %s = %d %q, want 200 application/x-ndjson", tc.query, resp.StatusCode, resp.Header.Get("Content-Type"))
				return
			}
			var got []string
			for _, m := range reported(lines(b)) {
				got = append(got, m["action"].(string))
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.actions) {
				t.Errorf("GET %s actions = %v, want %v", tc.query, got, tc.actions)
			}
		})
	}
	// Bob's ingested run:update made him active today.
	bob, _ := e.store.UserByUsername(context.Background(), "bob")
	org, _ := e.store.OrganizationByName(context.Background(), "acme")
	if m, _ := e.store.Membership(context.Background(), org.ID, bob.ID); m.ActiveDays != 1 {
		t.Errorf("bob's active days after ingest = %d, want 1", m.ActiveDays)
	}
}

func TestFetchAnonymize(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	full := audit.Event{Action: audit.ArtifactRead, ActorEmail: "a@x.io", ActorIP: "1.2.3.4", ActorUserID: "9",
		ArtifactAsset: "aa", ArtifactDigest: "ad", ArtifactQualifiedName: "aq", ArtifactSequenceAsset: "as",
		CLIVersion: "1", EntityAsset: "ea", EntityName: "en", ProjectAsset: "pa", ProjectName: "pn",
		ReportAsset: "ra", ReportName: "rn", ResponseCode: 200, Timestamp: time.Now().UTC().Truncate(time.Second), UserAsset: "ua", UserEmail: "u@x.io"}
	if code, res := e.ingest("alice", "", string(full.AppendJSON(nil))); code != 200 {
		t.Fatalf("ingest = %d %v", code, res)
	}
	for _, anonymize := range []string{"false", "true", "TRUE"} {
		t.Run("anonymize="+anonymize, func(t *testing.T) {
			_, b := e.do("GET", "/admin/audit_logs?anonymize="+anonymize, "alice", nil)
			got := reported(lines(b))
			if len(got) != 1 {
				t.Fatalf("anonymize=%s: %d events, want 1", anonymize, len(got))
			}
			for _, k := range audit.Keys {
				_, present := got[0][string(k)]
				want := !(k.IsPII() && anonymize != "false")
				if present != want {
					t.Errorf("anonymize=%s: key %s present = %v, want %v", anonymize, k, present, want)
				}
			}
		})
	}
}

func TestFetchBadParameters(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	for _, q := range []struct{ query, param string }{
		{"numDays=-1", "numDays"},
		{"numDays=abc", "numDays"},
		{"startDate=2023-13-45", "startDate"},
		{"anonymize=maybe", "anonymize"},
		{"limit=0", "limit"},
		{"limit=20001", "limit"},
		{"endDate=2026-01-02&numDays=1", "endDate"},
		{"limit=10&cursor=bogus", "cursor"},
	} {
		t.Run(q.query, func(t *testing.T) {
			resp, b := e.do("GET", "/admin/audit_logs?"+q.query, "alice", nil)
			var m map[string]string
			json.Unmarshal(b, &m)
			if resp.StatusCode != 400 || !strings.Contains(m["error"], q.param) {
				t.Errorf("GET ?%s = %d %s, want 400 naming %s", q.query, resp.StatusCode, b, q.param)
			}
		})
	}
}

func TestFetchAccess(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	if resp, _ := e.do("GET", "/admin/audit_logs", "", nil); resp.StatusCode != 401 || resp.Header.Get("WWW-Authenticate") == "" {
		t.Errorf("no credentials = %d, want 401 with a challenge", resp.StatusCode)
	}
	if resp, _ := e.do("GET", "/admin/audit_logs", "bob", nil); resp.StatusCode != 403 {
		t.Errorf("member = %d, want 403", resp.StatusCode)
	}
	// The instance admin belongs to "default" only: that is their API org.
	if resp, _ := e.do("GET", "/admin/audit_logs", "admin", nil); resp.StatusCode != 200 {
		t.Errorf("instance admin = %d, want 200", resp.StatusCode)
	}
	// alice joins a second org: without a default organization she gets the documented error.
	ctx := context.Background()
	if _, err := e.ids.CreateOrganization(ctx, e.admin, "beta", "enterprise"); err != nil {
		t.Fatal(err)
	}
	alice, _ := e.store.UserByUsername(ctx, "alice")
	beta, _ := e.store.OrganizationByName(ctx, "beta")
	e.store.InTx(ctx, func(tx *storage.Tx) error {
		_, err := tx.AddMembership(ctx, storage.NewMembership{OrgID: beta.ID, UserID: alice.ID, Role: "admin", ModelsSeat: "full", WeaveAccess: "full"})
		return err
	})
	resp, b := e.do("GET", "/admin/audit_logs", "alice", nil)
	var m map[string]string
	json.Unmarshal(b, &m)
	if resp.StatusCode != 400 || m["error"] != access.ErrMultipleOrgs.Error() {
		t.Errorf("two orgs, no default = %d %s, want 400 %q", resp.StatusCode, b, access.ErrMultipleOrgs)
	}
	if resp, _ := e.do("GET", "/admin/audit_logs?org=beta", "alice", nil); resp.StatusCode != 200 {
		t.Errorf("two orgs with ?org=beta = %d, want 200", resp.StatusCode)
	}
	if _, err := e.ids.SetDefaultOrganization(ctx, &auth.Principal{User: alice}, "beta"); err != nil {
		t.Fatal(err)
	}
	if resp, _ := e.do("GET", "/admin/audit_logs", "alice", nil); resp.StatusCode != 200 {
		t.Errorf("two orgs with a default = %d, want 200", resp.StatusCode)
	}
}

func TestGzipBothWays(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	var zb bytes.Buffer
	zw := gzip.NewWriter(&zb)
	fmt.Fprintf(zw, "{\"action\":\"run:update\",\"timestamp\":%q}\n", stamp(0))
	zw.Close()
	resp, b := e.do("POST", "/api/v1/audit_events", "alice", &zb, "Content-Encoding", "gzip")
	if resp.StatusCode != 200 {
		t.Fatalf("gzip ingest = %d %s, want 200", resp.StatusCode, b)
	}
	resp, b = e.do("POST", "/api/v1/audit_events", "alice", strings.NewReader("not gzip"), "Content-Encoding", "gzip")
	if resp.StatusCode != 400 {
		t.Errorf("corrupt gzip = %d %s, want 400", resp.StatusCode, b)
	}
	resp, b = e.do("GET", "/admin/audit_logs", "alice", nil, "Accept-Encoding", "gzip")
	if resp.Header.Get("Content-Encoding") != "gzip" {
		t.Fatalf("Content-Encoding = %q, want gzip", resp.Header.Get("Content-Encoding"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	if got := reported(lines(plain)); len(got) != 1 || got[0]["action"] != "run:update" {
		t.Errorf("gzip fetch = %s, want one run:update", plain)
	}
}

func TestIngestRejectsBadBatch(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	body := "{\"action\":\"run:update\"}\n{\"action\":\"run:update\",\"response_code\":700}\n"
	code, res := e.ingest("alice", "", body)
	if code != 400 || res["line"] != 2.0 || res["field"] != "response_code" {
		t.Errorf("bad batch = %d %v, want 400 naming line 2, field response_code", code, res)
	}
	org, _ := e.store.OrganizationByName(context.Background(), "acme")
	var n int
	e.store.DB().Get(&n, `SELECT count(*) FROM audit_events WHERE org_id = $1 AND action = 'run:update'`, org.ID)
	if n != 0 {
		t.Errorf("events stored from a bad batch = %d, want 0", n)
	}
	if code, _ := e.ingest("bob", "", "{\"action\":\"run:update\"}\n"); code != 403 {
		t.Errorf("member ingest = %d, want 403", code)
	}
	if code, _ := e.ingest("admin", "nosuch", "{\"action\":\"run:update\"}\n"); code != 404 {
		t.Errorf("ingest into unknown org = %d, want 404", code)
	}
}

func TestServiceAccountIngests(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	ctx := context.Background()
	if _, err := e.ids.CreateTeam(ctx, e.admin, "acme", "ml"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ids.CreateServiceAccount(ctx, e.admin, "acme", "ml", "bot", ""); err != nil {
		t.Fatal(err)
	}
	key, _, err := e.ids.CreateAPIKey(ctx, e.admin, "bot", "")
	if err != nil {
		t.Fatal(err)
	}
	e.keys["bot"] = key
	if code, res := e.ingest("bot", "", "{\"action\":\"sweep:create_agent\"}\n"); code != 200 || res["stored"] != 1.0 {
		t.Errorf("service account ingest = %d %v, want 200, 1 stored", code, res)
	}
}

func TestMultiTenantRules(t *testing.T) {
	e := newRestEnv(t, deployment.MultiTenant)
	body := fmt.Sprintf(`{"action":"run:update","timestamp":%q}
{"action":"report:read","timestamp":%q}
{"action":"run:update","project_public":true,"timestamp":%q}
{"action":"user:login","org_scoped":false,"timestamp":%q}
{"action":"run:stop","timestamp":%q,"actor_email":"bob@x.io"}
`, stamp(0), stamp(0), stamp(0), stamp(0), stamp(-9))
	code, res := e.ingest("alice", "acme", body)
	if code != 200 || res["stored"] != 2.0 || res["dropped"] != 3.0 {
		t.Fatalf("multi-tenant ingest = %d %v, want 2 stored, 3 dropped", code, res)
	}
	// numDays=9 acts as 7: the event 9 days old stays out.
	resp, b := e.do("GET", "/admin/audit_logs?numDays=9&anonymize=true", "alice", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("fetch = %d %s", resp.StatusCode, b)
	}
	if got := reported(lines(b)); len(got) != 1 || got[0]["action"] != "run:update" {
		t.Errorf("numDays=9 in multi-tenant = %s, want today's run:update only", b)
	}
	if resp.Header.Get(server.AnonymizeHeader) == "" {
		t.Errorf("anonymize=true in multi-tenant: no %s header", server.AnonymizeHeader)
	}
	// Only Enterprise organizations may fetch.
	ctx := context.Background()
	if _, err := e.ids.CreateOrganization(ctx, e.admin, "small", "teams"); err != nil {
		t.Fatal(err)
	}
	e.addUser("carol", "small", "admin")
	if resp, _ := e.do("GET", "/admin/audit_logs", "carol", nil); resp.StatusCode != 403 {
		t.Errorf("teams-plan org admin fetch = %d, want 403", resp.StatusCode)
	}
}

func TestPaginatedFetch(t *testing.T) {
	e := newRestEnv(t, deployment.SelfManaged)
	var b strings.Builder
	for i := 0; i < 25; i++ {
		fmt.Fprintf(&b, "{\"action\":\"run:update\",\"cli_version\":\"v%d\",\"timestamp\":%q}\n", i, stamp(-1))
	}
	if code, res := e.ingest("alice", "", b.String()); code != 200 {
		t.Fatalf("ingest = %d %v", code, res)
	}
	q := fmt.Sprintf("/admin/audit_logs?startDate=%s&endDate=%s&limit=10", day(-1), day(0))
	seen := map[string]bool{}
	cursor := ""
	for page := 0; ; page++ {
		path := q
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		resp, body := e.do("GET", path, "alice", nil)
		var env struct {
			AuditLogs      []map[string]any `json:"audit_logs"`
			RangeStartTime string           `json:"range_start_time"`
			RangeEndTime   string           `json:"range_end_time"`
			Count          int              `json:"count"`
			NextCursor     *string          `json:"next_cursor"`
		}
		if err := json.Unmarshal(body, &env); err != nil || resp.StatusCode != 200 {
			t.Fatalf("page %d = %d %s", page, resp.StatusCode, body)
		}
		if env.Count != len(env.AuditLogs) || env.RangeStartTime != day(-1)+"T00:00:00Z" || env.RangeEndTime != day(0)+"T00:00:00Z" {
			t.Errorf("page %d envelope = count %d (%d logs), range %s..%s", page, env.Count, len(env.AuditLogs), env.RangeStartTime, env.RangeEndTime)
		}
		for _, l := range env.AuditLogs {
			seen[l["cli_version"].(string)] = true
		}
		if env.NextCursor == nil {
			break
		}
		cursor = *env.NextCursor
	}
	if len(seen) != 25 {
		t.Errorf("pages returned %d distinct events, want 25", len(seen))
	}
}
