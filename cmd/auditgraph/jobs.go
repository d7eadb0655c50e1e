package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/auditgraph/auditgraph/bucketsync"
	"github.com/auditgraph/auditgraph/deployment"
	"github.com/auditgraph/auditgraph/metrics"
	"github.com/auditgraph/auditgraph/retention"
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

// start runs the configured jobs until ctx ends or stop is called; stop
// waits for them. A sync cut short leaves its plan, redone at the next start.
func (j *jobFlags) start(ctx context.Context, store *storage.Store, cp bucketsync.Checkpointer, reg *metrics.Metrics, log *slog.Logger) (stop func(), err error) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	closers := []func(){cancel}
	stop = func() {
		cancel()
		wg.Wait()
		for _, c := range closers {
			c()
		}
	}
	if j.bucket != "" {
		b, err := bucketsync.Open(ctx, j.bucket)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("--bucket: %w", err)
		}
		closers = append(closers, func() { b.Close() })
		s := bucketsync.New(bucketsync.Config{Store: store, Bucket: b, Interval: j.syncInterval, Checkpointer: cp,
			Alerter: stallAlerter{store, log}, Metrics: reg.NewBucketSync(), Log: log.With("job", "bucket-sync")})
		wg.Go(func() { s.Run(ctx) })
		log.Info("bucket sync on", "interval", j.syncInterval)
	}
	if !j.keep.Forever() {
		r := &retention.Job{Store: store, Keep: j.keep, RequireSynced: j.bucket != "", Log: log.With("job", "retention")}
		wg.Go(func() { r.Run(ctx) })
		log.Info("retention on", "retention", j.keep, "hipaa", j.hipaa)
	}
	return stop, nil
}
