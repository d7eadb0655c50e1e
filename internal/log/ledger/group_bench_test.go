package ledger_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/platform/benchclients"
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
			var next atomic.Int64
			benchclients.Run(b, 32, func() error {
				batch := []ledger.IngestEvent{{ClientID: fmt.Sprint(next.Add(1)), Event: audit.Event{Action: audit.RunUpdate, ActorEmail: "a@acme.io"}}}
				if grouped {
					_, err := in.Ingest(ctx, root, entity.Organization{ID: org}, batch, time.Time{})
					return err
				}
				_, err := ledger.Ingest(ctx, s, org, batch, time.Time{})
				return err
			})
			if tx, n := in.Transactions(); n > 0 {
				b.ReportMetric(float64(n)/float64(tx), "batches/tx")
			}
		})
	}
}
