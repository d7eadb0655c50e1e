package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/auditgraph/auditgraph/bucketsync"
	"github.com/auditgraph/auditgraph/metrics"
	"github.com/auditgraph/auditgraph/notify/outbox"
	"github.com/auditgraph/auditgraph/secretbox"
	"github.com/auditgraph/auditgraph/storage"
)

// startDelivery runs the alert outbox's delivery worker until the returned
// stop is called, which waits for the attempt in progress to finish. With
// no secret box it runs nothing and says why.
func startDelivery(ctx context.Context, cfg outbox.Config, store *storage.Store, secrets *secretbox.Box, reg *metrics.Metrics, log *slog.Logger) (stop func(), err error) {
	if secrets == nil {
		log.Warn("alert delivery is off: no secret key to open the integrations with", "err", secretbox.ErrNoKey)
		return func() {}, nil
	}
	cfg.Store, cfg.Secrets, cfg.Metrics, cfg.Log = store, secrets, reg, log
	w, err := outbox.New(cfg)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	return func() { cancel(); <-done }, nil
}

// stallAlerter tells the instance organization's integrations that the
// bucket sync has stalled. Bucket sync runs only in self-managed and
// dedicated mode, which always have an instance organization.
type stallAlerter struct {
	store *storage.Store
	log   *slog.Logger
}

func (a stallAlerter) BucketSyncStalled(ctx context.Context, s bucketsync.Stall) {
	title := fmt.Sprintf("Bucket sync stalled: %d audit events not exported since %s", s.Events, s.Since.UTC().Format(time.RFC3339))
	if s.Err != nil {
		title += " (last error: " + s.Err.Error() + ")"
	}
	var n int
	err := a.store.InTx(ctx, func(tx *storage.Tx) error {
		id, err := tx.Setting(ctx, storage.SettingInstanceOrg)
		if err != nil {
			return err
		}
		orgID, err := strconv.ParseInt(id, 10, 64)
		if err != nil {
			return fmt.Errorf("instance organization id %q: %w", id, err)
		}
		n, err = tx.EnqueueNotice(ctx, orgID, title)
		return err
	})
	if err != nil {
		a.log.Error("bucket sync stalled: could not queue the alert", "err", err)
		return
	}
	a.log.Info("bucket sync stalled: alert queued", "integrations", n)
}
