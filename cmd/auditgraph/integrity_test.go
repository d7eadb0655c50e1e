package main

import (
	"io"
	"testing"
	"time"

	"github.com/auditgraph/auditgraph/internal/log/retention"
)

// TestIntegritySetup: what the Integrity page (auditLogIntegrity) is told
// of serve's flags.
func TestIntegritySetup(t *testing.T) {
	started := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	var sf serveFlags
	if err := sf.parse([]string{"--checkpoint-interval", "2m", "--retention", "2192d"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	s := sf.integritySetup(started)
	if s.CheckpointInterval != 2*time.Minute || s.Bucket != nil || s.Retention != (retention.Period{Days: 2192}) || s.HIPAA {
		t.Errorf("without a bucket: %+v, want checkpoints every 2m, no bucket, 2192d", s)
	}

	sf = serveFlags{}
	if err := sf.parse([]string{"--bucket", "file://" + t.TempDir(), "--sync-interval", "5m", "--checkpoint-interval", "2m", "--retention", "6y", "--hipaa"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	s = sf.integritySetup(started)
	if s.CheckpointInterval != 5*time.Minute || s.Bucket == nil || s.Bucket.Interval != 5*time.Minute || !s.Bucket.Started.Equal(started) ||
		s.Retention != (retention.Period{Years: 6}) || !s.HIPAA {
		t.Errorf("with a bucket: %+v (bucket %+v), want the sync's 5m for both, 6y, hipaa", s, s.Bucket)
	}
}
