package main

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"time"

	"github.com/auditgraph/auditgraph/internal/alerting/secretbox"
	"github.com/auditgraph/auditgraph/internal/log/bucketsync"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
	"github.com/auditgraph/auditgraph/notify/outbox"
	"github.com/auditgraph/auditgraph/storage"
)

// deliveryJob is the alert outbox's delivery worker, which finishes the
// attempt in progress as it stops. With no secret box it is off (a job
// with no run), and says why.
func deliveryJob(cfg outbox.Config, store *storage.Store, secrets *secretbox.Box, reg *metrics.Metrics, log *slog.Logger) (job, error) {
	if secrets == nil {
		log.Warn("alert delivery is off: no secret key to open the integrations with", "err", secretbox.ErrNoKey)
		return job{}, nil
	}
	cfg.Store, cfg.Secrets, cfg.Metrics, cfg.Log = store, secrets, reg, log
	w, err := outbox.New(cfg)
	if err != nil {
		return job{}, err
	}
	return job{"alert delivery", w.Run}, nil
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
