package main

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/identity"
	"github.com/auditgraph/auditgraph/internal/log/bucketsync"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/storage"
	"github.com/auditgraph/auditgraph/storage/storagetest"
)

// A stalled bucket sync queues one notice for each integration of the
// instance organization still in use, and none for a revoked one.
func TestStallAlerterQueuesNotices(t *testing.T) {
	ctx := context.Background()
	st := storagetest.New(t)
	log := slog.New(slog.DiscardHandler)
	if _, _, err := identity.New(st, deployment.SelfManaged, log).Bootstrap(ctx, identity.Bootstrap{AdminUsername: "admin", OrgName: "default"}); err != nil {
		t.Fatal(err)
	}
	org, err := st.OrganizationByName(ctx, "default")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for _, name := range []string{"ops", "siem", "gone"} {
		err := st.InTx(ctx, func(tx *storage.Tx) error {
			in, err := tx.CreateIntegration(ctx, entity.Integration{OrgID: org.ID, Name: name, Kind: "webhook", URLSealed: []byte{1}, SigningSecretSealed: []byte{2}})
			ids = append(ids, in.ID)
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := st.InTx(ctx, func(tx *storage.Tx) error {
		return tx.SetIntegrationStatus(ctx, ids[2], entity.IntegrationRevoked, "410")
	}); err != nil {
		t.Fatal(err)
	}
	since := time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC)
	stallAlerter{st, log}.BucketSyncStalled(ctx, bucketsync.Stall{Since: since, Events: 42, Err: errors.New("bucket: access denied")})
	for i, id := range ids {
		got, err := st.IntegrationDeliveries(ctx, id, 1<<62, 10)
		if err != nil {
			t.Fatal(err)
		}
		want := 1
		if i == 2 {
			want = 0
		}
		if len(got) != want {
			t.Fatalf("integration %d: %d outbox rows, want %d", id, len(got), want)
		}
		if want == 1 {
			if r := got[0].RuleName; !strings.Contains(r, "42 audit events not exported since 2026-11-30T08:00:00Z") || !strings.Contains(r, "access denied") || got[0].EventSeq != nil {
				t.Errorf("notice = %+v, want the stall's figures and error, no event", got[0])
			}
		}
	}
}
