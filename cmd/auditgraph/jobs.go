package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"time"

	"github.com/auditgraph/auditgraph/internal/log/bucketsync"
	"github.com/auditgraph/auditgraph/internal/log/retention"
	"github.com/auditgraph/auditgraph/internal/platform/deployment"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
	"github.com/auditgraph/auditgraph/storage"
)

// jobFlags are serve's flags for its background jobs.
type jobFlags struct {
	bucket       string
	syncInterval time.Duration
	retention    string
	hipaa        bool
	keep         retention.Period
}

func (j *jobFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&j.bucket, "bucket", "", "bucket URL (file://, s3://, gs://, azblob://) to sync audit events to; empty: no sync (self-managed, dedicated)")
	fs.DurationVar(&j.syncInterval, "sync-interval", 10*time.Minute, "time between bucket syncs")
	fs.StringVar(&j.retention, "retention", "forever", "how long audit events are kept, in days or years (2192d, 6y); expired months are dropped daily")
	fs.BoolVar(&j.hipaa, "hipaa", false, "refuse a --retention under 6 years")
}

// check validates the flags against the deployment mode.
func (j *jobFlags) check(m deployment.Mode) error {
	if j.bucket != "" && m.MultiTenant() {
		return usageError{errors.New("--bucket: multi-tenant deployments have no bucket sync (audit logs are served by the API only)")}
	}
	if j.syncInterval <= 0 {
		return usageError{errors.New("--sync-interval: must be positive")}
	}
	keep, err := retention.Parse(j.retention)
	if err != nil {
		return usageError{fmt.Errorf("--%w", err)}
	}
	if err := retention.Check(keep, j.hipaa); err != nil {
		return usageError{err}
	}
	j.keep = keep
	return nil
}

// build returns the bucket sync and the retention job the flags turn on
// (a job with no run when off). The bucket is closed when the sync stops.
func (j *jobFlags) build(ctx context.Context, store *storage.Store, cp bucketsync.Checkpointer, reg *metrics.Metrics, log *slog.Logger) (sync, expiry job, err error) {
	if j.bucket != "" {
		b, err := bucketsync.Open(ctx, j.bucket)
		if err != nil {
			return job{}, job{}, fmt.Errorf("--bucket: %w", err)
		}
		s := bucketsync.New(bucketsync.Config{Store: store, Bucket: b, Interval: j.syncInterval, Checkpointer: cp,
			Alerter: stallAlerter{store, log}, Metrics: reg.NewBucketSync(), Log: log.With("job", "bucket-sync")})
		sync = job{"bucket sync", func(ctx context.Context) error {
			defer b.Close()
			return s.Run(ctx)
		}}
		log.Info("bucket sync on", "interval", j.syncInterval)
	}
	if !j.keep.Forever() {
		r := &retention.Job{Store: store, Keep: j.keep, RequireSynced: j.bucket != "", Log: log.With("job", "retention")}
		expiry = job{"retention", r.Run}
		log.Info("retention on", "retention", j.keep, "hipaa", j.hipaa)
	}
	return sync, expiry, nil
}

// partitionsAhead refreshes, daily, the audit partitions created months
// ahead, so that the server's own events never wait for one.
func partitionsAhead(store *storage.Store, log *slog.Logger) job {
	return job{"audit partitions", func(ctx context.Context) error {
		tick := time.NewTicker(24 * time.Hour)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return nil
			case now := <-tick.C:
				if err := store.EnsurePartitions(ctx, now, now.AddDate(0, 3, 0)); err != nil {
					log.Error("creating audit partitions ahead", "err", err)
				}
			}
		}
	}}
}
