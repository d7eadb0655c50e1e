package browsertest_test

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/profiler"
	"github.com/chromedp/chromedp"
)

// TestProfilePageLoad (PAGELOAD_PROFILE=1) samples the renderer's CPU
// during warm loads of the benchmark's pages and logs where the time goes.
func TestProfilePageLoad(t *testing.T) {
	if os.Getenv("PAGELOAD_PROFILE") == "" {
		t.Skip("set PAGELOAD_PROFILE=1")
	}
	e := newBig(t)
	e.writeEvents("big", 20000)
	p := e.newPage(t)
	p.signIn("boss", e.key("boss"), "/org/dashboard?org=big")
	p.waitUsers()
	for _, w := range []string{loadWatch, auditLoadWatch} {
		if _, err := chromedp.Call(p.ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: w}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := chromedp.Call(p.ctx, profiler.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	chromedp.Call(p.ctx, profiler.SetSamplingInterval, profiler.SetSamplingIntervalParams{Interval: 1000})
	for _, tc := range []struct{ name, path, mark string }{
		{"users", "/org/dashboard?org=big", "rows"},
		{"activity", "/org/dashboard?org=big&tab=activity", "plots"},
		{"audit-log", "/org/dashboard?org=big&tab=audit-log", "auditRows"},
	} {
		for i := 0; i < 3; i++ {
			p.load(tc.path, tc.mark, false)
		}
		if _, err := chromedp.Call(p.ctx, profiler.Start, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		ms, _, _ := p.load(tc.path, tc.mark, false)
		res, err := chromedp.Call(p.ctx, profiler.Stop, cdp.Empty{})
		if err != nil {
			t.Fatal(err)
		}
		marks := eval[string](p, `performance.getEntriesByType("mark").map(m => m.startTime.toFixed(0) + " " + m.name).join("\n")`)
		t.Logf("%s drawn %.0f ms\n%s\nmarks:\n%s\n%s", tc.name, ms, p.waterfall(tc.mark), marks, summarize(res.Profile))
	}
}

func summarize(pr *profiler.Profile) string {
	byID := map[int64]*profiler.ProfileNode{}
	parent := map[int64]int64{}
	for _, n := range pr.Nodes {
		byID[n.ID] = n
		for _, c := range n.Children {
			parent[c] = n.ID
		}
	}
	name := func(n *profiler.ProfileNode) string {
		cf := n.CallFrame
		u := cf.URL
		if i := strings.LastIndex(u, "/"); i >= 0 {
			u = u[i+1:]
		}
		return fmt.Sprintf("%s %s:%d:%d", cf.FunctionName, u, cf.LineNumber, cf.ColumnNumber)
	}
	self := map[string]float64{}
	total := map[string]float64{}
	var sb strings.Builder
	t := 0.0
	buckets := map[int]map[string]float64{}
	for i, s := range pr.Samples {
		dt := float64(pr.TimeDeltas[i]) / 1000
		t += dt
		n := byID[s]
		self[name(n)] += dt
		seen := map[string]bool{}
		for id := s; ; {
			nn := name(byID[id])
			if !seen[nn] {
				total[nn] += dt
				seen[nn] = true
			}
			pid, ok := parent[id]
			if !ok {
				break
			}
			id = pid
		}
		b := int(t / 10)
		if buckets[b] == nil {
			buckets[b] = map[string]float64{}
		}
		cat := n.CallFrame.FunctionName
		if cat != "(idle)" && cat != "(program)" && cat != "(garbage collector)" {
			cat = "js"
		}
		buckets[b][cat] += dt
	}
	top := func(m map[string]float64, k int) {
		type kv struct {
			k string
			v float64
		}
		var l []kv
		for a, b := range m {
			l = append(l, kv{a, b})
		}
		sort.Slice(l, func(i, j int) bool { return l[i].v > l[j].v })
		for i := 0; i < len(l) && i < k; i++ {
			fmt.Fprintf(&sb, "  %6.1f ms %s\n", l[i].v, l[i].k)
		}
	}
	sb.WriteString("self:\n")
	top(self, 30)
	sb.WriteString("total:\n")
	top(total, 40)
	sb.WriteString("timeline (10 ms buckets from profile start):\n")
	var ks []int
	for k := range buckets {
		ks = append(ks, k)
	}
	sort.Ints(ks)
	for _, k := range ks {
		fmt.Fprintf(&sb, "  %4d: idle %.1f program %.1f gc %.1f js %.1f\n", k*10, buckets[k]["(idle)"], buckets[k]["(program)"], buckets[k]["(garbage collector)"], buckets[k]["js"])
	}
	return sb.String()
}
