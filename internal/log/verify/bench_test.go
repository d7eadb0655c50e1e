package verify_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/audit"
	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/log/ledger"
	"github.com/auditgraph/auditgraph/internal/log/notary"
	"github.com/auditgraph/auditgraph/internal/log/verify"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// BenchmarkVerify measures database verification throughput over a log of
// 100,000 events (AUDITGRAPH_BENCH_VERIFY_EVENTS sets another size), stored
// through ingest's COPY in batches of 10,000 with a checkpoint after each.
func BenchmarkVerify(b *testing.B) {
	n := 100_000
	if v, err := strconv.Atoi(os.Getenv("AUDITGRAPH_BENCH_VERIFY_EVENTS")); err == nil && v > 0 {
		n = v
	}
	ctx := context.Background()
	s := storagetest.New(b)
	var org entity.Organization
	err := s.InTx(ctx, func(tx *storage.Tx) error {
		var err error
		org, err = tx.CreateOrganization(ctx, "bench", "enterprise")
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	nt := notary.New(notary.Config{Store: s, Key: testKey})
	start := time.Now().Add(-24 * time.Hour)
	const batch = 10_000
	for done := 0; done < n; {
		k := min(batch, n-done)
		events := make([]ledger.IngestEvent, k)
		for i := range events {
			j := done + i
			events[i] = ledger.IngestEvent{ClientID: "e" + strconv.Itoa(j), Event: audit.Event{
				Action: audit.Actions()[j%29], ActorEmail: fmt.Sprintf("user%d@example.com", j%2000), ActorIP: "10.0.0.1",
				ActorUserID: strconv.Itoa(j % 2000), EntityName: "team-a", ProjectName: "project-" + strconv.Itoa(j%50),
				ResponseCode: 200, CLIVersion: "0.19.1", Timestamp: start.Add(time.Duration(j) * 50 * time.Millisecond)}}
		}
		res, err := ledger.Ingest(ctx, s, org.ID, events, time.Time{})
		if err != nil {
			b.Fatal(err)
		}
		done += k
		if _, err := nt.Checkpoint(ctx, org.ID, org.Name, res.LastSeq); err != nil {
			b.Fatal(err)
		}
	}
	opts := verify.Options{Keys: []ed25519.PublicKey{testKey.Public().(ed25519.PublicKey)}}
	b.ResetTimer()
	t0 := time.Now()
	for b.Loop() {
		r, err := verify.Database(ctx, s, org, opts)
		if err != nil {
			b.Fatal(err)
		}
		if !r.Intact() || r.Events != int64(n) {
			b.Fatalf("report = %+v, want %d events intact", r, n)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/time.Since(t0).Seconds(), "events/s")
}
