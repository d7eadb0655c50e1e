package browsertest_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/heapprofiler"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/auditgraph/auditgraph/internal/platform/deployment"
)

// bigEvents is the size of the audit-log benchmark's organization's log.
const bigEvents = 1_000_000

// newBigLog returns a self-managed server with the organization "biglog":
// its admin boss and 1,000,000 audit events over the last 30 days (about
// 33,000 a day, every action of the catalog), written with SQL.
func newBigLog(b *testing.B) *env {
	b.Helper()
	e := newEnv(b, deployment.SelfManaged)
	e.org("biglog", person{username: "boss", name: "Big Boss", role: "admin"})
	start := time.Now()
	e.writeEvents("biglog", bigEvents)
	b.Logf("biglog: %d events written in %s", bigEvents, time.Since(start).Round(time.Second))
	return e
}

// writeEvents appends n audit events over the last 30 days to org's log
// with SQL (every action of the catalog, 5,000 actors, one in 17 refused).
func (e *env) writeEvents(org string, n int) {
	e.t.Helper()
	// After the events the server wrote itself (boss's user:create …).
	base := e.count(`SELECT last_seq FROM organizations WHERE name = $1`, org)
	e.exec(`INSERT INTO audit_events (org_id, seq, ts, action, actor_email, actor_ip, project_name, entity_name, response_code)
		SELECT o.id, $2 + g, now() - interval '30 days' + (g * interval '30 days' / $1),
			(ARRAY['artifact:create','artifact:read','project:read','run:update','run:stop','team:create','user:login','user:logout','user:read'])[1 + g % 9],
			'u' || (g % 5000) || '@example.com', '10.0.' || (g % 250) || '.' || (g % 200), 'project-' || (g % 300), 'team-' || (g % 40),
			CASE WHEN g % 17 = 0 THEN 403 ELSE 200 END
		FROM organizations o, generate_series(1, $1) g WHERE o.name = $3`, n, base, org)
	e.exec(`UPDATE organizations SET last_seq = last_seq + $1 WHERE name = $2`, n, org)
	e.exec(`ANALYZE audit_events`)
}

// auditLoadWatch is run in every new document before the page's scripts:
// it notes, in milliseconds since navigation start, when the Audit log's
// first rows are drawn.
const auditLoadWatch = `(() => {
	const marks = window.__agMarks = window.__agMarks || {};
	const check = () => {
		if (!marks.auditRows && document.querySelector("#audit-table tr[data-seq]")) marks.auditRows = performance.now();
	};
	new MutationObserver(check).observe(document, {subtree: true, childList: true});
})();`

// heapAfterGC returns the tab's used JS heap after a garbage collection.
func (p *page) heapAfterGC() float64 {
	p.t.Helper()
	if _, err := chromedp.Call(p.ctx, heapprofiler.CollectGarbage, cdp.Empty{}); err != nil {
		p.t.Fatal(err)
	}
	res, err := chromedp.Call(p.ctx, runtime.GetHeapUsage, cdp.Empty{})
	if err != nil {
		p.t.Fatal(err)
	}
	used := res.UsedSize
	return used
}

// scrollAuditTo scrolls the Audit log down until the page has read n
// events (rows held plus those it dropped), and returns the rows held.
func (p *page) scrollAuditTo(n int) int {
	p.t.Helper()
	deadline := time.Now().Add(6 * time.Minute)
	for time.Now().Before(deadline) {
		read := eval[int](p, `(window.scrollTo(0, document.body.scrollHeight), +document.querySelector(".audit-log").dataset.read)`)
		if read >= n {
			return eval[int](p, `+document.querySelector(".audit-log").dataset.rows`)
		}
		time.Sleep(150 * time.Millisecond)
	}
	p.t.Fatalf("the audit log did not read %d events within 6 minutes", n)
	return 0
}

// BenchmarkPageLoadAuditLog measures the Audit log page on a 1,000,000-event
// organization: from navigation to the first rows drawn, against the page's
// own GraphQL requests run alone from the same page (see alone); and the
// tab's JS heap (after a garbage collection) once 1,000 and 10,000 events
// have been read by scrolling, which the page's 2,000-row cap keeps flat.
// make bench-browser runs it with BenchmarkPageLoad.
func BenchmarkPageLoadAuditLog(b *testing.B) {
	e := newBigLog(b)
	p := e.newPage(b)
	path := "/org/dashboard?org=biglog&tab=audit-log"
	p.signIn("boss", e.key("boss"), path)
	p.waitAuditLoaded()
	if _, err := chromedp.Call(p.ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: auditLoadWatch}); err != nil {
		b.Fatal(err)
	}
	b.Run("first-page", func(b *testing.B) {
		p.t = b
		defer func() { p.t = e.t }()
		_, _, coldBytes := p.load(path, "auditRows", true)
		f := p.loads(b, path, "auditRows")
		b.ReportMetric(coldBytes, "B/cold-load")
		b.Logf("audit log: the last load's waterfall (ms since navigation start):\n%s", p.waterfall("auditRows"))
		f.report(b, "audit log, first rows")
		b.Logf("audit log: %s cold", kib(coldBytes))
	})
	b.Run("scroll-heap", func(b *testing.B) {
		p.t = b
		defer func() { p.t = e.t }()
		// Once: scrolling 10,000 rows is the measurement, not its repeats.
		start := time.Now()
		p.load(path, "auditRows", false)
		h0 := p.heapAfterGC()
		rows1k := p.scrollAuditTo(1000)
		h1k := p.heapAfterGC()
		rows10k := p.scrollAuditTo(10000)
		h10k := p.heapAfterGC()
		took := time.Since(start)
		for b.Loop() {
			p.heapAfterGC()
		}
		b.ReportMetric(h0/(1<<20), "MiB/heap-first-page")
		b.ReportMetric(h1k/(1<<20), "MiB/heap-1k-rows")
		b.ReportMetric(h10k/(1<<20), "MiB/heap-10k-rows")
		b.Logf("audit log JS heap after GC: first page %s, 1,000 events read %s (%d rows held), 10,000 read %s (%d rows held); scrolling took %s",
			mib(h0), mib(h1k), rows1k, mib(h10k), rows10k, took.Round(time.Second))
	})
}

func mib(n float64) string { return fmt.Sprintf("%.1f MiB", n/(1<<20)) }
