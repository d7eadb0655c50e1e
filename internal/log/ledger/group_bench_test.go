package ledger_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// BenchmarkSmallBatches is 32 clients each sending 1-event batches (with a
// client id) to one organization, through the Ingester (grouped) and
// through ledger.Ingest (a transaction per batch, as before group commit),
// and grouped without the linger (see gather), for comparison.
// It reports events/s and the p50/p99 latency of a batch. The figure means
// something only on a durable cluster (synchronous_commit=on, fsync=on):
// point AUDITGRAPH_TEST_DATABASE_URL at one.
func BenchmarkSmallBatches(b *testing.B) {
	for _, mode := range []string{"grouped", "grouped-nolinger", "alone"} {
		grouped := mode != "alone"
		b.Run(mode, func(b *testing.B) {
			s := storagetest.New(b)
			org, _ := storagetest.NewOrgWithMember(b, s, "acme", "a@acme.io")
			in := ledger.NewIngester(s)
			if mode == "grouped-nolinger" {
				ledger.SetGroupLinger(in, 0)
			}
			ctx := context.Background()
			var (
				next atomic.Int64
				mu   sync.Mutex
				lat  []time.Duration
			)
			b.SetParallelism(max(1, 32/runtime.GOMAXPROCS(0)))
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				var mine []time.Duration
				for pb.Next() {
					batch := []ledger.IngestEvent{{ClientID: fmt.Sprint(next.Add(1)), Event: audit.Event{Action: audit.RunUpdate, ActorEmail: "a@acme.io"}}}
					t0 := time.Now()
					var err error
					if grouped {
						_, err = in.Ingest(ctx, root, entity.Organization{ID: org}, batch, time.Time{})
					} else {
						_, err = ledger.Ingest(ctx, s, org, batch, time.Time{})
					}
					if err != nil {
						b.Error(err)
						return
					}
					mine = append(mine, time.Since(t0))
				}
				mu.Lock()
				lat = append(lat, mine...)
				mu.Unlock()
			})
			elapsed := time.Since(start)
			b.StopTimer()
			slices.Sort(lat)
			if len(lat) > 0 {
				b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "events/s")
				b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
				b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
			}
			if tx, n := in.Transactions(); n > 0 {
				b.ReportMetric(float64(n)/float64(tx), "batches/tx")
			}
		})
	}
}
