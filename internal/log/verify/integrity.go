package verify

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"strings"
	"time"

	"github.com/auditgraph/auditgraph/internal/entity"
	"github.com/auditgraph/auditgraph/internal/log/bucketsync"
	"github.com/auditgraph/auditgraph/internal/log/retention"
	"github.com/auditgraph/auditgraph/internal/platform/fault"
	"github.com/auditgraph/auditgraph/storage"
)

// Setup is what the server is configured to do about its audit logs'
// integrity, for the Integrity page: fixed while it runs.
type Setup struct {
	// CheckpointInterval is how often the server signs a checkpoint of each
	// log that grew: --checkpoint-interval, or with a bucket the sync
	// interval (each sync signs what it uploads); 0 when it never does.
	CheckpointInterval time.Duration
	// Bucket is the bucket sync; nil without --bucket.
	Bucket *BucketSetup
	// Retention is --retention; HIPAA is --hipaa.
	Retention retention.Period
	HIPAA     bool
}

// BucketSetup is the bucket sync's configuration.
type BucketSetup struct {
	// Interval is --sync-interval.
	Interval time.Duration
	// Started is when this server started syncing: a stall counts from it
	// when no run has completed since, as for the stall alert.
	Started time.Time
}

// Integrity is what an organization's Integrity page shows besides a
// verification. It reads a few rows by key, never the events.
type Integrity struct {
	Org entity.Organization
	// LastSeq is the organization's last sequence number.
	LastSeq int64
	// Checkpoint is the newest checkpoint, nil before the first.
	Checkpoint *storage.Checkpoint
	// NotCheckpointed is how many events follow the newest checkpoint.
	NotCheckpointed int64
	// Key is the public half of the key the server signs with; nil when it
	// has none, and then signs no checkpoints.
	Key ed25519.PublicKey
	// Command is the auditgraph verify command line that checks the
	// organization's log in the database against Key; empty without Key.
	Command string
	// CheckpointInterval, Retention and HIPAA are the server's Setup.
	CheckpointInterval time.Duration
	Retention          retention.Period
	HIPAA              bool
	// RetentionFloor is the floor the database enforces (storage.RetentionFloor).
	RetentionFloor string
	// Sync is the bucket sync's position, nil without a bucket.
	Sync *SyncStatus
}

// SyncStatus is how far the bucket is behind an organization's log.
type SyncStatus struct {
	storage.OrgSyncLag
	Interval time.Duration
	// Lag is the age of the oldest event not in the bucket; 0 when none.
	Lag time.Duration
	// Stalled: two intervals without a complete run.
	Stalled bool
}

// Command returns the auditgraph verify command line that verifies the
// organization org in the database with the public keys given, as
// auditgraph keys show prints them. Names are letters, digits, '_', '.' and
// '-', and base64 needs no quoting, so the line is safe to paste into a shell.
func Command(org string, keys ...ed25519.PublicKey) string {
	enc := make([]string, len(keys))
	for i, k := range keys {
		enc[i] = base64.StdEncoding.EncodeToString(k)
	}
	return "auditgraph verify --org " + org + " --public-key " + strings.Join(enc, ",")
}

// Integrity returns the organization's integrity facts if actor may verify
// its log (Verifiable: instance admins and the organization's admins).
func (s *Service) Integrity(ctx context.Context, actor entity.User, name string) (Integrity, error) {
	org, err := s.Verifiable(ctx, actor, name)
	if err != nil {
		return Integrity{}, err
	}
	in := Integrity{Org: org, CheckpointInterval: s.Setup.CheckpointInterval, Retention: s.Setup.Retention, HIPAA: s.Setup.HIPAA}
	// A server without a signing key signs nothing: it says so (Key nil)
	// and still shows the rest.
	if len(s.Keys) > 0 {
		in.Key, in.Command = s.Keys[0], Command(org.Name, s.Keys[0])
	} else {
		in.CheckpointInterval = 0
	}
	err = s.Store.InSnapshot(ctx, func(tx *storage.Tx) error {
		if in.LastSeq, err = tx.OrgLastSeq(ctx, org.ID); err != nil {
			return err
		}
		in.NotCheckpointed = in.LastSeq
		switch c, err := tx.LastCheckpoint(ctx, org.ID); {
		case err == nil:
			in.Checkpoint = &c
			in.NotCheckpointed = max(in.LastSeq-c.LastSeq, 0)
		case !errors.Is(err, fault.ErrNotFound):
			return err
		}
		if in.RetentionFloor, err = tx.RetentionFloor(ctx); err != nil {
			return err
		}
		if b := s.Setup.Bucket; b != nil {
			lag, err := tx.OrgBucketSyncLag(ctx, org.ID)
			if err != nil {
				return err
			}
			now := s.now()
			st := &SyncStatus{OrgSyncLag: lag, Interval: b.Interval,
				Stalled: bucketsync.Stalled(now, lag.LastSuccess, b.Started, b.Interval)}
			if lag.Events > 0 && !lag.Oldest.IsZero() {
				st.Lag = max(now.Sub(lag.Oldest), 0)
			}
			in.Sync = st
		}
		return nil
	})
	if err != nil {
		return Integrity{}, err
	}
	return in, nil
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}
