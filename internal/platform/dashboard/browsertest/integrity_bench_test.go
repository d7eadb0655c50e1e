package browsertest_test

import (
	"encoding/json"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/log/verify"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// BenchmarkIntegrity measures what the Integrity page's choice rests on: on
// an organization of AUDITGRAPH_BENCH_INTEGRITY_EVENTS events (default
// 100,000; reported through the REST API in batches of 5,000, a checkpoint
// signed after each batch, as a server with a busy log would), the time of
// auditLogIntegrity (every visit) and of verifyAuditLog (reads every event)
// as GraphQL requests alone, and in the page: from navigation to the facts
// drawn, and from pressing Verify now to the result drawn. Not part of make
// bench-browser:
//
//	go run ./tools/withpg go test -count=1 -run '^$' -bench Integrity -benchtime 3x ./internal/platform/dashboard/browsertest/
func BenchmarkIntegrity(b *testing.B) {
	n := 100_000
	if s := os.Getenv("AUDITGRAPH_BENCH_INTEGRITY_EVENTS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 {
			b.Fatalf("AUDITGRAPH_BENCH_INTEGRITY_EVENTS=%q: want a positive number", s)
		}
		n = v
	}
	e := newEnv(b, deployment.SelfManaged)
	e.org("big", person{username: "boss", name: "Big Boss", role: "admin"})
	e.serveIntegrity(verify.Setup{CheckpointInterval: 10 * time.Minute})
	e.key("boss")
	start := time.Now()
	for left := n; left > 0; left -= 5000 {
		e.report("big", min(left, 5000))
		e.checkpoint("big")
	}
	b.Logf("%d events reported and checkpointed in %s", e.lastSeq("big"), time.Since(start).Round(time.Millisecond))
	e.exec(`ANALYZE`)

	timeQuery := func(query string) float64 {
		body, _ := json.Marshal(map[string]any{"query": query, "variables": map[string]any{"org": "big"}})
		req, err := http.NewRequestWithContext(e.ctx, http.MethodPost, e.url+"/graphql", strings.NewReader(string(body)))
		if err != nil {
			b.Fatal(err)
		}
		req.SetBasicAuth("boss", e.key("boss"))
		req.Header.Set("Content-Type", "application/json")
		t0 := time.Now()
		code, out := e.send(req)
		ms := float64(time.Since(t0).Microseconds()) / 1000
		if code != http.StatusOK || strings.Contains(string(out), `"errors"`) {
			b.Fatalf("%s = %d %s", query, code, out)
		}
		return ms
	}
	const infoQ = `query($org: String!) { auditLogIntegrity(organization: $org) { lastSequence notCheckpointed latestCheckpoint { lastSequence } } }`
	const verifyQ = `query($org: String!) { verifyAuditLog(organization: $org) { intact events checkpoints } }`

	p := e.newPage(b)
	p.signIn("boss", e.key("boss"), "/org/dashboard?org=big")
	var info, ver, facts, verified []float64
	b.ResetTimer()
	for range b.N {
		info = append(info, timeQuery(infoQ))
		ver = append(ver, timeQuery(verifyQ))

		t0 := time.Now()
		p.open("/org/dashboard?org=big&tab=integrity")
		p.waitFor("#integrity-checkpoints")
		facts = append(facts, float64(time.Since(t0).Microseconds())/1000)
		if n > 50_000 && p.exists("#integrity-verification[aria-busy=true]") {
			b.Fatal("a long log was verified on opening")
		}
		if n > 50_000 {
			t0 = time.Now()
			p.click("#integrity-verify")
			if got := p.waitVerified(); got != "intact" {
				b.Fatalf("verification %s, want intact", got)
			}
			verified = append(verified, float64(time.Since(t0).Microseconds())/1000)
		} else {
			p.waitVerified()
		}
	}
	b.StopTimer()
	b.ReportMetric(median(info), "integrity-ms")
	b.ReportMetric(median(ver), "verify-ms")
	b.ReportMetric(median(facts), "facts-drawn-ms")
	if len(verified) > 0 {
		b.ReportMetric(median(verified), "verify-drawn-ms")
		b.ReportMetric(float64(e.lastSeq("big"))/(median(ver)/1000), "events/s")
	}
}
