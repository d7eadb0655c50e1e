// Package bucketsync exports each organization's new audit events to the
// instance bucket as gzip NDJSON objects under wandb-audit-logs/, every event
// exactly once, even across crashes and with several servers running.
//
// Exactly once works like this: before an upload, the object's range (first
// and last sequence number) and name are committed as the organization's
// plan; the object is then written, with bytes that depend only on the
// events, and the transaction that records it moves the high-water mark and
// clears the plan. A run after a crash finds the plan and writes the same
// object again, replacing whatever was there with identical bytes. Only one
// server runs a sync at a time (a PostgreSQL advisory lock).
package bucketsync

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"gocloud.dev/blob"

	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/internal/platform/metrics"
	"github.com/auditgraph/auditgraph/storage"
)

// DefaultMaxObjectEvents caps the events of one object, so a backlog is
// exported as objects of a size every tool can handle.
const DefaultMaxObjectEvents = 100_000

// Checkpointer makes the signed digest published with each upload: it
// returns the checkpoint JSON for an organization's log up to lastSeq and
// records it in the database.
type Checkpointer interface {
	Checkpoint(ctx context.Context, orgID int64, org string, lastSeq int64) ([]byte, error)
}

// Alerter is told when the sync has missed two intervals in a row.
type Alerter interface {
	BucketSyncStalled(ctx context.Context, s Stall)
}

// Stall describes a sync that has not completed for two intervals or more.
type Stall struct {
	// Since is the start of the last complete run, or when this server
	// started if none has completed since.
	Since time.Time
	// Events is how many stored events are not in the bucket.
	Events int64
	// Err is the last run's error, nil if runs were not failing but not
	// happening (another server holds the lock and is stuck).
	Err error
}

// Config is what a Syncer needs.
type Config struct {
	Store  *storage.Store
	Bucket *blob.Bucket
	// Interval is the time between runs (default 10 minutes).
	Interval time.Duration
	// MaxObjectEvents caps one object (default DefaultMaxObjectEvents).
	MaxObjectEvents int64
	// Checkpointer, when not nil, is asked for a checkpoint after each
	// object, uploaded before the high-water mark moves.
	Checkpointer Checkpointer
	// Alerter, when not nil, is told about a stall; it is logged either way.
	Alerter Alerter
	// Metrics, when not nil, receives the sync's figures.
	Metrics *metrics.BucketSync
	Log     *slog.Logger
}

// Syncer exports audit events to the bucket.
type Syncer struct {
	cfg     Config
	started time.Time
	// afterUpload runs between an object's upload and its commit; tests use
	// it to crash there.
	afterUpload func(storage.SyncPlan) error
}

// New returns a Syncer for cfg.
func New(cfg Config) *Syncer {
	if cfg.Interval <= 0 {
		cfg.Interval = 10 * time.Minute
	}
	if cfg.MaxObjectEvents <= 0 {
		cfg.MaxObjectEvents = DefaultMaxObjectEvents
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Syncer{cfg: cfg, started: time.Now()}
}

// StalledSince is when a stall counts from: the start of the last complete
// run, or when the server started if none has completed since.
func StalledSince(lastSuccess, started time.Time) time.Time {
	if lastSuccess.Before(started) {
		return started
	}
	return lastSuccess
}

// Stalled reports whether the sync of a server started at started, running
// every interval, has missed two intervals at now: no run has completed for
// two intervals since StalledSince.
func Stalled(now, lastSuccess, started time.Time, interval time.Duration) bool {
	return now.Sub(StalledSince(lastSuccess, started)) >= 2*interval
}

// Open opens the bucket at url: file://, s3://, gs:// or azblob://.
func Open(ctx context.Context, url string) (*blob.Bucket, error) {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open bucket: %w", err)
	}
	return b, nil
}

// Run syncs at once and then every interval until ctx ends, and returns
// nil: a failed sync is logged, counted and retried at the next tick (a
// sync cut short leaves its plan, redone at the next start).
func (s *Syncer) Run(ctx context.Context) error {
	t := time.NewTicker(s.cfg.Interval)
	defer t.Stop()
	for {
		s.tick(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (s *Syncer) tick(ctx context.Context) {
	_, err := s.SyncOnce(ctx)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		s.cfg.Log.Error("bucket sync failed", "err", err)
		if s.cfg.Metrics != nil {
			s.cfg.Metrics.Failed()
		}
	}
	if err := s.watch(ctx, err); err != nil {
		s.cfg.Log.Error("bucket sync: reading the lag", "err", err)
	}
}

// SyncOnce exports every organization's events stored so far, unless another
// server is syncing (then it returns false and does nothing).
func (s *Syncer) SyncOnce(ctx context.Context) (bool, error) {
	unlock, ok, err := s.cfg.Store.TryLock(ctx, storage.LockBucketSync)
	if err != nil || !ok {
		return false, err
	}
	defer unlock()
	start := time.Now()
	orgs, err := s.cfg.Store.SyncOrgs(ctx)
	if err != nil {
		return true, err
	}
	var errs []error
	for _, o := range orgs {
		if err := s.syncOrg(ctx, o); err != nil {
			errs = append(errs, fmt.Errorf("organization %q: %w", o.Name, err))
		}
	}
	if len(errs) > 0 {
		return true, errors.Join(errs...)
	}
	return true, s.cfg.Store.SyncSucceeded(ctx, start)
}

// syncOrg exports one organization's events up to its last sequence number
// as it was when the run read it, first redoing an unfinished plan.
func (s *Syncer) syncOrg(ctx context.Context, o storage.SyncOrg) error {
	for {
		p := o.Plan
		if p == nil {
			if o.SyncedSeq >= o.LastSeq {
				return nil
			}
			first, ts, err := s.cfg.Store.FirstEventAfter(ctx, o.OrgID, o.SyncedSeq)
			if errors.Is(err, fault.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			last, err := s.cfg.Store.ContiguousEnd(ctx, o.OrgID, first, min(o.LastSeq, first+s.cfg.MaxObjectEvents-1))
			if err != nil {
				return err
			}
			p = &storage.SyncPlan{First: first, Last: last, Object: ObjectName(o.Name, ts, first, last)}
			if err := s.cfg.Store.PlanSync(ctx, o.OrgID, *p); err != nil {
				return err
			}
		}
		if err := s.upload(ctx, o, *p); err != nil {
			return err
		}
		o.SyncedSeq, o.Plan = p.Last, nil
	}
}

// upload writes a plan's object and the checkpoint, then commits them.
func (s *Syncer) upload(ctx context.Context, o storage.SyncOrg, p storage.SyncPlan) error {
	if err := s.writeObject(ctx, o.OrgID, p); err != nil {
		return fmt.Errorf("upload %s: %w", p.Object, err)
	}
	if s.afterUpload != nil {
		if err := s.afterUpload(p); err != nil {
			return err
		}
	}
	checkpoint := ""
	if s.cfg.Checkpointer != nil {
		b, err := s.cfg.Checkpointer.Checkpoint(ctx, o.OrgID, o.Name, p.Last)
		if err != nil {
			return fmt.Errorf("checkpoint up to %d: %w", p.Last, err)
		}
		checkpoint = CheckpointName(o.Name, p.Last)
		if err := s.cfg.Bucket.WriteAll(ctx, checkpoint, b, &blob.WriterOptions{ContentType: "application/json"}); err != nil {
			return fmt.Errorf("upload %s: %w", checkpoint, err)
		}
	}
	if err := s.cfg.Store.CommitSync(ctx, o.OrgID, p, checkpoint); err != nil {
		return err
	}
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.Uploaded(p.Last - p.First + 1)
	}
	s.cfg.Log.Info("bucket sync: uploaded", "org", o.Name, "object", p.Object, "events", p.Last-p.First+1)
	return nil
}

// writeObject streams the plan's events from the database through gzip into
// the bucket. An object is only created when every event was written: on any
// error the write is cancelled, which discards it.
func (s *Syncer) writeObject(ctx context.Context, orgID int64, p storage.SyncPlan) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w, err := s.cfg.Bucket.NewWriter(wctx, p.Object, &blob.WriterOptions{ContentType: "application/gzip"})
	if err != nil {
		return err
	}
	err = encode(w, func(emit func(storage.StoredEvent) error) error {
		return s.cfg.Store.StreamOrgEvents(ctx, orgID, p.First, p.Last, emit)
	}, p.First, p.Last)
	if err != nil {
		cancel()
		w.Close()
		return err
	}
	return w.Close()
}

// encode writes events first..last as gzip NDJSON, checking that stream
// delivers each sequence number once, in order. The gzip header carries no
// name and no time, so the same events always give the same bytes.
func encode(w io.Writer, stream func(func(storage.StoredEvent) error) error, first, last int64) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(zw, 64<<10)
	next := first
	var line []byte
	err = stream(func(e storage.StoredEvent) error {
		if e.Seq != next {
			return fmt.Errorf("event %d missing from the database", next)
		}
		next++
		line = AppendLine(line[:0], e)
		_, err := bw.Write(line)
		return err
	})
	if err != nil {
		return err
	}
	if next != last+1 {
		return fmt.Errorf("events %d..%d missing from the database", next, last)
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	return zw.Close()
}

// watch publishes the lag and raises the stall alert once per stall.
func (s *Syncer) watch(ctx context.Context, runErr error) error {
	lag, err := s.cfg.Store.BucketSyncLag(ctx)
	if err != nil {
		return err
	}
	now := time.Now()
	since := StalledSince(lag.LastSuccess, s.started)
	stalled := Stalled(now, lag.LastSuccess, s.started, s.cfg.Interval)
	if s.cfg.Metrics != nil {
		s.cfg.Metrics.SetLag(now, lag.LastSuccess, lag.Events, lag.Oldest, stalled)
	}
	if !stalled {
		return nil
	}
	claimed, err := s.cfg.Store.ClaimSyncStallAlert(ctx)
	if err != nil || !claimed {
		return err
	}
	st := Stall{Since: since, Events: lag.Events, Err: runErr}
	s.cfg.Log.Error("bucket sync stalled: two sync intervals missed", "since", since, "events_waiting", lag.Events, "err", runErr)
	if s.cfg.Alerter != nil {
		s.cfg.Alerter.BucketSyncStalled(ctx, st)
	}
	return nil
}
