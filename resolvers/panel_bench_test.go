package resolvers_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/server"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// BenchmarkPanelAsOrgAdmin serves the shortest dashboard panel (a count
// over an organization with one active member) through the real handler
// as an organization admin, who, unlike an instance admin, has their role
// checked: the figure is the per-request cost of a panel beyond its query.
func BenchmarkPanelAsOrgAdmin(b *testing.B) {
	for _, cached := range []bool{false, true} {
		name := "uncached"
		if cached {
			name = "cached"
		}
		b.Run(name, func(b *testing.B) { benchmarkPanelAsOrgAdmin(b, cached) })
	}
}

// benchmarkPanelAsOrgAdmin is BenchmarkPanelAsOrgAdmin with the server's
// auth cache (listening) or without.
func benchmarkPanelAsOrgAdmin(b *testing.B, cached bool) {
	ctx := context.Background()
	st := storagetest.New(b)
	log := slog.New(slog.DiscardHandler)
	ids := identity.New(st, deployment.SelfManaged, log)
	if _, _, err := ids.Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", AdminAPIKey: adminKey, OrgName: "default"}); err != nil {
		b.Fatal(err)
	}
	admin, err := st.UserByUsername(ctx, "admin")
	if err != nil {
		b.Fatal(err)
	}
	p := &auth.Principal{User: admin}
	if _, err := ids.CreateOrganization(ctx, p, "acme", "enterprise"); err != nil {
		b.Fatal(err)
	}
	if _, err := ids.CreateUser(ctx, p, identity.NewUser{Username: "alice", Email: "alice@x.io", Org: "acme", Role: "admin"}); err != nil {
		b.Fatal(err)
	}
	key, _, err := ids.CreateAPIKey(ctx, p, "alice", "bench")
	if err != nil {
		b.Fatal(err)
	}
	var cache *auth.Cache
	if cached {
		cache = auth.NewCache(0, log)
		cache.Live(true) // no change is made while it runs: nothing to hear
	}
	served := identity.New(st, deployment.SelfManaged, log)
	served.UseCache(cache)
	h := server.New(server.Config{Services: app.New(st), Identity: served, Mode: deployment.SelfManaged, Log: log, ActivityCutoff: cutoff, AuthCache: cache})
	q, _ := json.Marshal(map[string]string{"query": `{ organization(name: "acme") { activity { totalActiveUsers(period: LAST_30_DAYS) { count } } } }`})
	ask := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(string(q)))
		req.SetBasicAuth("alice", key)
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := ask(); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"count":`) {
		b.Fatalf("panel = %d %.300s", rec.Code, rec.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		if rec := ask(); rec.Code != http.StatusOK {
			b.Fatalf("POST /graphql = %d", rec.Code)
		}
	}
}
