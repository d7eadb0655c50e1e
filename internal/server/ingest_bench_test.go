package server_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/auditgraph/auditgraph/internal/app"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/identity/activity"
	"github.com/auditgraph/auditgraph/internal/identity/auth"
	"github.com/auditgraph/auditgraph/internal/platform/benchclients"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/server"
)

// BenchmarkSmallBatchesHTTP is the bench's small-batch section in one
// process, for profiling the server's work per request: 32 clients each
// POSTing 1-event batches with a client id to one organization, through the
// whole HTTP stack (authentication, the organization, parsing, group
// commit). Run it with -cpuprofile; the figures themselves belong to
// `make bench`, where the server runs in a process of its own.
func BenchmarkSmallBatchesHTTP(b *testing.B) {
	e := newRestEnv(b, deployment.SelfManaged)
	// Served as `auditgraph serve` serves it: authentication and the
	// organization from the auth cache, API activity through the tracker.
	log := slog.New(slog.DiscardHandler)
	cache := auth.NewCache(0, log)
	cache.Live(true) // no change is made while it runs: nothing to hear
	ids := identity.New(e.store, deployment.SelfManaged, log)
	ids.UseCache(cache)
	tracker := activity.NewTracker(e.store, log)
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	go tracker.Run(ctx)
	svc := app.New(e.store)
	srv := httptest.NewServer(server.New(server.Config{Services: svc, Identity: ids, Mode: deployment.SelfManaged,
		Log: log, Tracker: tracker, AuthCache: cache}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{DisableCompression: true, MaxIdleConnsPerHost: 64}}
	var next atomic.Int64
	benchclients.Run(b, 32, func() error {
		i := next.Add(1)
		body := fmt.Sprintf(`{"id":"h%d","action":"run:update","actor_email":"bob@x.io","project_name":"p%d"}`+"\n", i, i%32)
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/api/v1/audit_events?org=acme", strings.NewReader(body))
		req.SetBasicAuth("alice", e.keys["alice"])
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		reply, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%s: %s", resp.Status, reply)
		}
		return nil
	})
	if tx, n := svc.Ingester().Transactions(); tx > 0 {
		b.ReportMetric(float64(n)/float64(tx), "batches/tx")
	}
}
