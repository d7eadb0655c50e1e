package resolvers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime/metrics"
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

// pageQuery asks for a 100-event page with every field of AuditEvent.
const pageQuery = `{ organization(name: "acme") { auditEvents(first: 100) { nodes { sequence action timestamp
	actorEmail actorIp actorUserId artifactAsset artifactDigest artifactQualifiedName artifactSequenceAsset
	cliVersion entityAsset entityName projectAsset projectName reportAsset reportName responseCode
	userAsset userEmail json } } } }`

// BenchmarkAuditEventsPage serves a 100-event auditEvents page through the
// real handler and reports, besides time and allocations, the goroutines
// started per page (runtime/metrics counts every goroutine created).
func BenchmarkAuditEventsPage(b *testing.B) {
	ctx := context.Background()
	st := storagetest.New(b)
	log := slog.New(slog.DiscardHandler)
	ids := identity.New(st, deployment.SelfManaged, log)
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: adminKey, OrgName: "acme"}); err != nil {
		b.Fatal(err)
	}
	h := server.New(server.Config{Services: app.New(st), Identity: ids, Mode: deployment.SelfManaged, Log: log, ActivityCutoff: cutoff})
	var body strings.Builder
	t0 := time.Now().UTC().Add(-time.Hour)
	for i := range 100 {
		fmt.Fprintf(&body, `{"action":"artifact:read","actor_email":"user%d@example.com","actor_ip":"10.0.0.%d","actor_user_id":"%d",`+
			`"artifact_asset":"QXJ0%d","artifact_digest":"4b2c0f6e","artifact_qualified_name":"vision/run/model:v%d",`+
			`"entity_name":"vision","project_name":"resnet","cli_version":"0.19.8","response_code":200,"timestamp":%q}`+"\n",
			i, i, 1000+i, i, i, t0.Add(time.Duration(i)*time.Second).Format(time.RFC3339))
	}
	rec := serve(h, http.MethodPost, "/api/v1/audit_events?org=acme", "application/x-ndjson", body.String())
	if rec.Code != http.StatusOK {
		b.Fatalf("POST /api/v1/audit_events = %d %s", rec.Code, rec.Body)
	}
	q, _ := json.Marshal(map[string]string{"query": pageQuery})
	check := serve(h, http.MethodPost, "/graphql", "application/json", string(q))
	var res struct {
		Data struct {
			Organization struct {
				AuditEvents struct{ Nodes []map[string]any }
			}
		}
	}
	if err := json.Unmarshal(check.Body.Bytes(), &res); err != nil || len(res.Data.Organization.AuditEvents.Nodes) != 100 {
		b.Fatalf("auditEvents page = %d %.300s, want 100 events", check.Code, check.Body)
	}
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(created)
	before := created[0].Value.Uint64()
	b.ReportAllocs()
	for b.Loop() {
		if rec := serve(h, http.MethodPost, "/graphql", "application/json", string(q)); rec.Code != http.StatusOK {
			b.Fatalf("POST /graphql = %d", rec.Code)
		}
	}
	metrics.Read(created)
	b.ReportMetric(float64(created[0].Value.Uint64()-before)/float64(b.N), "goroutines/op")
}

func serve(h http.Handler, method, path, contentType, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.SetBasicAuth("admin", adminKey)
	req.Header.Set("Content-Type", contentType)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// membersQuery is issue 17's members page.
const membersQuery = `{ organization(name:"acme") { users(first:50, orderBy:{field:LAST_ACTIVE, direction:DESC}) { nodes { username email lastActiveAt } } } }`

// membersPageHandler is the real handler over an organization "acme" of
// 61 members (the admin and m00–m59), with the auth cache as `serve` has it
// (the key and the organization answered from memory).
func membersPageHandler(tb testing.TB) http.Handler {
	ctx := context.Background()
	dbURL := storagetest.URL(tb)
	st, err := storage.Open(ctx, dbURL)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	ids := identity.New(st, deployment.SelfManaged, log)
	cache := auth.NewCache(0, log)
	runCache(tb, cache, dbURL)
	ids.UseCache(cache)
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: adminKey, OrgName: "acme"}); err != nil {
		tb.Fatal(err)
	}
	admin, err := st.UserByUsername(ctx, "admin")
	if err != nil {
		tb.Fatal(err)
	}
	p := &auth.Principal{User: admin}
	for i := range 60 {
		u := fmt.Sprintf("m%02d", i)
		if _, err := ids.CreateUser(ctx, p, identity.NewUser{Username: u, Email: u + "@x.io", Org: "acme", Role: "member"}); err != nil {
			tb.Fatal(err)
		}
	}
	return server.New(server.Config{Services: app.New(st), Identity: ids, Mode: deployment.SelfManaged, Log: log, ActivityCutoff: cutoff, AuthCache: cache})
}

// goroutinesCreated counts the goroutines the process creates while fn runs.
func goroutinesCreated(fn func()) uint64 {
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(created)
	before := created[0].Value.Uint64()
	fn()
	metrics.Read(created)
	return created[0].Value.Uint64() - before
}

// TestMembersPageMarshalsWithoutAGoroutinePerMember checks what tools/gqlgen's
// rewrite of the generated list marshallers buys (internal/platform/gqlslice):
// the 50-member page of membersQuery, whose fields are plain, is marshalled
// without gqlgen's goroutine per member, while a page selecting a resolver
// (teams, through the dataloader) keeps one per member. Not parallel: it
// counts the process's goroutines.
func TestMembersPageMarshalsWithoutAGoroutinePerMember(t *testing.T) {
	h := membersPageHandler(t)
	page := func(query string) uint64 {
		q, _ := json.Marshal(map[string]string{"query": query})
		serve(h, http.MethodPost, "/graphql", "application/json", string(q)) // warm: statements prepared
		var rec *httptest.ResponseRecorder
		n := goroutinesCreated(func() { rec = serve(h, http.MethodPost, "/graphql", "application/json", string(q)) })
		if rec.Code != http.StatusOK || strings.Count(rec.Body.String(), `"username"`) != 50 {
			t.Fatalf("%s = %d %.300s, want 50 members", query, rec.Code, rec.Body)
		}
		return n
	}
	if n := page(membersQuery); n >= 25 {
		t.Errorf("the members page with plain fields created %d goroutines, want fewer than 25 (none per member)", n)
	}
	withTeams := `{ organization(name:"acme") { users(first:50, orderBy:{field:LAST_ACTIVE, direction:DESC}) { nodes { username teams { name } } } } }`
	if n := page(withTeams); n < 50 {
		t.Errorf("the members page with teams created %d goroutines, want at least one per member (the dataloader batches them)", n)
	}
}

// BenchmarkMembersPage serves the 50-member page of membersQuery through
// membersPageHandler, as BenchmarkAuditEventsPage does the events page, so
// that its profile is the page's own cost.
func BenchmarkMembersPage(b *testing.B) {
	h := membersPageHandler(b)
	q, _ := json.Marshal(map[string]string{"query": membersQuery})
	if rec := serve(h, http.MethodPost, "/graphql", "application/json", string(q)); rec.Code != http.StatusOK || strings.Count(rec.Body.String(), `"username"`) != 50 {
		b.Fatalf("members page = %d %.300s, want 50 members", rec.Code, rec.Body)
	}
	created := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(created)
	before := created[0].Value.Uint64()
	b.ReportAllocs()
	for b.Loop() {
		if rec := serve(h, http.MethodPost, "/graphql", "application/json", string(q)); rec.Code != http.StatusOK {
			b.Fatalf("POST /graphql = %d", rec.Code)
		}
	}
	metrics.Read(created)
	b.ReportMetric(float64(created[0].Value.Uint64()-before)/float64(b.N), "goroutines/op")
}
